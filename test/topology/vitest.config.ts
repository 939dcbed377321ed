// `npm run test:topology`: the production shape on this machine (test/topology/). Kept out of
// `npm test` and the fault suite: it builds the real Temporal server once (minutes) and runs
// for several minutes more. It starts its own PostgreSQL, so no global setup.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..'),
  test: {
    name: 'topology',
    include: ['test/topology/**/*.test.ts'],
    environment: 'node',
    pool: 'forks',
    poolOptions: { forks: { singleFork: true } },
    testTimeout: 20 * 60_000,
    hookTimeout: 10 * 60_000,
  },
});
