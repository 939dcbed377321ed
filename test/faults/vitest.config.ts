// `npm run test:faults`: the fault suite (test/faults/), kept out of `npm test` for its length
// (about 30 minutes on 2 CPUs; CI runs it after npm test). Same global setup as the
// integration tests: one throwaway PostgreSQL with the migrations, one workflow bundle.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..'),
  test: {
    name: 'faults',
    include: ['test/faults/**/*.test.ts'],
    environment: 'node',
    globalSetup: ['test/integration/support/global-setup.ts'],
    // One PostgreSQL for the run; files one after another in a single process.
    pool: 'forks',
    poolOptions: { forks: { singleFork: true } },
    testTimeout: 900_000,
    hookTimeout: 300_000,
  },
});
