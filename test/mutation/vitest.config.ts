// The tests StrykerJS runs against each mutant (`npm run test:mutation`, stryker.config.mjs): the
// unit tests of the decision-making modules only — no database, no Temporal — so one run takes
// about a second and a mutant's tests a few milliseconds.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..'),
  test: {
    name: 'mutation',
    include: [
      'test/unit/gates.test.ts',
      'test/unit/gates-wording.test.ts',
      'test/unit/announcements.test.ts',
      'test/unit/auth.test.ts',
      'test/unit/verify-signature.test.ts',
      'test/unit/invoice-effects.test.ts',
      'test/unit/ledger-decisions.test.ts',
      'test/unit/ladder.test.ts',
      'test/unit/account-read-model.test.ts',
    ],
    environment: 'node',
  },
});
