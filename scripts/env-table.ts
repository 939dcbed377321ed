// The configuration table of docs/configuration.md, generated from .env.example so the two
// cannot drift: `npm run docs:env` rewrites it; test/unit/env-table.test.ts fails when they differ.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const START = '<!-- env-table:start (generated from .env.example by `npm run docs:env`) -->';
export const END = '<!-- env-table:end -->';

export interface EnvRow {
  variable: string;
  default: string;
  meaning: string;
}

/** Each variable with the comment block right above it: `VAR=…` or `# VAR=…`. */
export function envRows(example: string): EnvRow[] {
  const rows: EnvRow[] = [];
  let comment: string[] = [];
  for (const raw of example.split('\n')) {
    const line = raw.trim();
    const assignment = /^#?\s*([A-Z][A-Z0-9_]*)=/.exec(line);
    if (assignment) {
      if (comment.length > 0) rows.push(describe(assignment[1]!, comment.join(' ')));
      comment = [];
    } else if (line.startsWith('#') && !line.startsWith('# ---')) {
      comment.push(line.replace(/^#\s?/, ''));
    } else {
      comment = [];
    }
  }
  return rows;
}

function describe(variable: string, text: string): EnvRow {
  const escape = (s: string) => s.replaceAll('|', '\\|').trim();
  const required = /\s*\(REQUIRED[^)]*\)/.exec(text);
  if (required) {
    const meaning = text.replace(required[0], '').replace(/\s*No default\./, '');
    return { variable, default: 'required', meaning: escape(`**Required.** ${meaning}`) };
  }
  const found = /\s*Default: (.*?)\.(?=\s+Valid:|\s*$)/.exec(text);
  if (!found) return { variable, default: 'unset', meaning: escape(text) };
  const value = found[1]!.trim();
  return {
    variable,
    default: /^\S+$/.test(value) && value !== 'unset' ? `\`${value}\`` : escape(value),
    meaning: escape(text.replace(found[0], '')),
  };
}

export function renderEnvTable(rows: EnvRow[]): string {
  return [
    '| Variable | Default | Meaning |',
    '| --- | --- | --- |',
    ...rows.map((r) => `| \`${r.variable}\` | ${r.default} | ${r.meaning} |`),
  ].join('\n');
}

/** The cells of a markdown table, whitespace-insensitive (prettier pads the columns). */
export function tableCells(markdown: string): string[][] {
  return markdown
    .split('\n')
    .filter((l) => l.trim().startsWith('|') && !/^\|\s*-/.test(l.trim()))
    .map((l) =>
      l
        .trim()
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((c) => c.trim()),
    );
}

/** The document that holds the generated table, relative to the repository root. */
export const CONFIGURATION_DOC = 'docs/configuration.md';

export function documentedTable(doc: string): string {
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${CONFIGURATION_DOC} has no ${START} … ${END} block`);
  return doc.slice(start + START.length, end);
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const docPath = path.join(root, CONFIGURATION_DOC);
  const doc = fs.readFileSync(docPath, 'utf8');
  const table = renderEnvTable(envRows(fs.readFileSync(path.join(root, '.env.example'), 'utf8')));
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) {
    process.stderr.write(`${CONFIGURATION_DOC} has no ${START} … ${END} block\n`);
    process.exit(1);
  }
  fs.writeFileSync(docPath, `${doc.slice(0, start + START.length)}\n\n${table}\n\n${doc.slice(end)}`);
  process.stdout.write(
    `${CONFIGURATION_DOC}: configuration table rewritten from .env.example (run prettier on it)\n`,
  );
}
