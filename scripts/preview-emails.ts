// `npm run emails:preview [-- --out <dir>]`: renders every customer email with sample data to
// <template>.html (open in a browser) and <template>.txt (the plain-text part), plus an index.
// Nothing is sent; no configuration is needed.
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { EMAIL_TEMPLATES, renderEmail, sampleEmailContext } from '../src/notifications/email-templates.js';
import { projectRoot } from '../src/dev/toolchain.js';

const program = new Command()
  .name('emails:preview')
  .option('--out <dir>', 'folder to write the previews to', path.join('.data', 'email-preview'))
  .parse();
const { out } = program.opts<{ out: string }>();
// The default lives in the project's .data/; a folder given on the command line is relative to
// where npm was run (INIT_CWD), not to the project root npm switches to.
const from =
  program.getOptionValueSource('out') === 'default' ? projectRoot : (process.env.INIT_CWD ?? process.cwd());
const dir = path.resolve(from, out);
fs.mkdirSync(dir, { recursive: true });

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const index: string[] = [];
for (const template of EMAIL_TEMPLATES) {
  const email = renderEmail(template, sampleEmailContext(template));
  const html = path.join(dir, `${template}.html`);
  fs.writeFileSync(html, email.html);
  fs.writeFileSync(path.join(dir, `${template}.txt`), `Subject: ${email.subject}\n\n${email.text}\n`);
  index.push(`<li><a href="${template}.html">${template}</a>: ${escape(email.subject)}</li>`);
  console.log(html);
}
const indexPath = path.join(dir, 'index.html');
fs.writeFileSync(
  indexPath,
  `<!doctype html><html><head><meta charset="utf-8"><title>Email previews</title></head><body style="font-family:sans-serif"><h1>Customer emails</h1><ul>${index.join('')}</ul></body></html>\n`,
);
console.log(indexPath);
