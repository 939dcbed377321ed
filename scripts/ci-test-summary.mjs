// The closing line of a CI run: every vitest run's JSON report added up, printed as the plain
// "N passed, N failed" line a reader (or a log scanner) finds at the end of the output. Vitest's
// own summary is coloured and split over several lines, one per run; this is one line for all.
import { readFileSync } from 'node:fs';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node scripts/ci-test-summary.mjs REPORT.json [REPORT.json ...]');
  process.exit(2);
}

let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of files) {
  // A missing or unreadable report is a failed step, never zero tests.
  const report = JSON.parse(readFileSync(file, 'utf8'));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + report.numTodoTests;
  console.log(
    `[ci] ${file.split('/').pop()}: ${report.numPassedTests} passed, ${report.numFailedTests} failed`,
  );
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
