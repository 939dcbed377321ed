// Mutation testing of the rules that decide what happens to an account (`npm run test:mutation`,
// CONTRIBUTING.md "Mutation testing"): StrykerJS changes one small thing at a time in the modules
// below and runs the fast unit tests (test/mutation/vitest.config.ts); a change no test notices
// is a "survivor". CI fails when the score drops below `thresholds.break`.
import process from 'node:process';

const reportDir = process.env.MUTATION_REPORT_DIR ?? 'reports/mutation';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  vitest: { configFile: 'test/mutation/vitest.config.ts' },
  // Pure, decision-making modules only: the gate matrix, the webhook signature check, the token
  // check, the invoice effects and their stale-event rules, the notification ledger's decisions,
  // the ladder table and its timing.
  mutate: [
    'src/gates/*.ts',
    'src/webhook/verify-signature.ts',
    'src/api/auth.ts',
    'src/webhook/invoice-effects.ts',
    'src/activities/ledger-decisions.ts',
    // The ladder table and its pure timing (test/unit/ladder.test.ts).
    'src/workflows/ladder.ts',
    // What every surface says about an account: driving invoices, amounts, why a restore
    // happened, current vs last (test/unit/account-read-model.test.ts).
    'src/workflows/account-rules.ts',
  ],
  coverageAnalysis: 'perTest',
  concurrency: 2,
  timeoutMS: 10_000,
  thresholds: { high: 95, low: 90, break: 90 },
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: `${reportDir}/index.html` },
  jsonReporter: { fileName: `${reportDir}/mutation.json` },
  // The console shows the score table and every survivor; summary.txt repeats them with the reasons
  // given for mutants marked equivalent (test/mutation/summary.ts, run by the npm script).
  clearTextReporter: { allowColor: false, reportTests: false, reportMutants: true, reportScoreTable: true },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
  // The sandbox needs the sources and tests, not the data folders or the shared toolchain.
  ignorePatterns: ['.data', '.tools', 'reports', 'bench', 'deploy', 'docs', 'prisma/migrations'],
};
