// Writes reports/mutation/summary.txt from Stryker's mutation.json: the score per module and every
// mutant that was not killed — survivors and mutants without a covering test first, then the
// ones marked equivalent in the code, with the reason given there. Run by `npm run test:mutation`
// after Stryker, also when Stryker failed the threshold (that is when the list matters most).
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';

const dir = process.env.MUTATION_REPORT_DIR ?? 'reports/mutation';
interface Mutant {
  status: string;
  mutatorName: string;
  replacement: string;
  statusReason?: string;
  location: { start: { line: number; column: number } };
}
interface Report {
  thresholds: { break: number | null };
  files: Record<string, { source: string; mutants: Mutant[] }>;
}
const report = JSON.parse(fs.readFileSync(path.join(dir, 'mutation.json'), 'utf8')) as Report;

// A mutant's code without the comments Stryker carries along, on one line.
const shown = (code: string) =>
  code
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('//'))
    .join(' ⏎ ')
    .slice(0, 160);

const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);
const lines: string[] = [];
const notKilled: { first: boolean; text: string }[] = [];
let detected = 0;
let undetected = 0;

for (const [file, { mutants, source }] of Object.entries(report.files)) {
  const d = mutants.filter((m) => DETECTED.has(m.status)).length;
  const u = mutants.filter((m) => UNDETECTED.has(m.status)).length;
  const ignored = mutants.filter((m) => m.status === 'Ignored').length;
  detected += d;
  undetected += u;
  const score = d + u === 0 ? 100 : (100 * d) / (d + u);
  lines.push(
    `${score.toFixed(2).padStart(6)} %  ${file}  (${d} caught, ${u} not, ${ignored} marked equivalent)`,
  );
  const code = source.split('\n');
  for (const m of mutants.filter((x) => !DETECTED.has(x.status))) {
    const at = `${file}:${m.location.start.line}:${m.location.start.column}`;
    const original = code[m.location.start.line - 1]?.trim() ?? '';
    notKilled.push({
      first: m.status !== 'Ignored',
      text: `${m.status.padEnd(10)} ${at} ${m.mutatorName}\n    - ${original}\n    + ${shown(m.replacement)}${m.status === 'Ignored' ? `\n    why: ${m.statusReason ?? ''}` : ''}`,
    });
  }
}

const total = detected + undetected === 0 ? 100 : (100 * detected) / (detected + undetected);
const breakAt = report.thresholds.break ?? 0;
const out = [
  `Mutation score ${total.toFixed(2)} % (${detected} caught of ${detected + undetected}; CI fails below ${breakAt} %)`,
  '',
  ...lines,
  '',
  notKilled.length ? 'Not killed:' : 'Every mutant killed.',
  ...notKilled.sort((a, b) => Number(b.first) - Number(a.first)).map((m) => m.text),
  '',
].join('\n');
fs.writeFileSync(path.join(dir, 'summary.txt'), out);
process.stdout.write(out);
