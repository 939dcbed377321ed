// A dependency that is not there at start-up: each process says which one, at which address and
// what to do, in one line without a stack, and exits with 69 (docs: exit codes).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { freePort } from '../../src/dev/embedded-postgres.js';
import { projectRoot } from '../../src/dev/toolchain.js';
import { seedAccount } from './support/harness.js';

const run = promisify(execFile);

async function start(entry: string[], env: Record<string, string>) {
  const result = await run(process.execPath, ['--import', 'tsx', ...entry], {
    cwd: projectRoot,
    timeout: 60_000,
    env: {
      PATH: process.env.PATH!,
      HOME: process.env.HOME ?? '/tmp',
      BILLING_DEV_ENV: 'off',
      INTERNAL_API_TOKEN: 'internal-token-0123456789abcdef00',
      ADMIN_TOKEN: 'admin-token-0123456789abcdef000000',
      STRIPE_WEBHOOK_SECRET: 'whsec_startup_test',
      DEPENDENCY_WAIT_SECONDS: '1',
      WORKER_METRICS_ADDRESS: 'off',
      WORKER_SERVICE_METRICS_ADDRESS: 'off',
      ...env,
    },
  }).then(
    () => ({ code: 0, stdout: '', stderr: '' }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
  return { ...result, output: `${result.stdout}${result.stderr}` };
}

const noStack = (output: string) => expect(output).not.toMatch(/\n\s+at .+:\d+:\d+/);

describe('start-up without its dependencies', () => {
  it('worker and HTTP service: PostgreSQL not there → exit 69, address and hint, no password, no stack', async () => {
    const port = await freePort();
    for (const entry of [['src/worker.ts'], ['src/api/main.ts']]) {
      const r = await start(entry, {
        DATABASE_URL: `postgresql://billing:s3cret-pw@127.0.0.1:${port}/billing`,
      });
      expect(r.code, r.output).toBe(69);
      expect(r.output).toContain(`cannot reach PostgreSQL at 127.0.0.1:${port}/billing (connection refused)`);
      expect(r.output).toMatch(/Check DATABASE_URL/);
      expect(r.output).toMatch(/waiting for PostgreSQL at .* \(up to 1 s\)/);
      expect(r.output).not.toContain('s3cret-pw');
      noStack(r.output);
    }
  });

  it('worker and HTTP service: Temporal not there → exit 69 naming TEMPORAL_ADDRESS', async () => {
    const port = await freePort();
    for (const entry of [['src/worker.ts'], ['src/api/main.ts']]) {
      const r = await start(entry, {
        DATABASE_URL: inject('databaseUrl'),
        TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
      });
      expect(r.code, r.output).toBe(69);
      expect(r.output).toContain(`cannot reach Temporal at 127.0.0.1:${port} (`);
      expect(r.output).toMatch(/Check TEMPORAL_ADDRESS/);
      noStack(r.output);
    }
  });

  it('CLI: PostgreSQL or Temporal not there → exit 69 with the address and what to do', async () => {
    const port = await freePort();
    const db = await start(['src/cli/main.ts', 'list'], {
      DATABASE_URL: `postgresql://billing:s3cret-pw@127.0.0.1:${port}/billing`,
    });
    expect(db.code, db.output).toBe(69);
    expect(db.stderr).toMatch(
      new RegExp(`^billing: cannot reach PostgreSQL at 127.0.0.1:${port}/billing .*Check DATABASE_URL`),
    );
    expect(db.output).not.toContain('s3cret-pw');

    const { accountId } = await seedAccount();
    const temporal = await start(
      ['src/cli/main.ts', 'release-hold', accountId, '--actor', 'ops', '--reason', 'start-up check'],
      {
        DATABASE_URL: inject('databaseUrl'),
        TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
      },
    );
    expect(temporal.code, temporal.output).toBe(69);
    expect(temporal.stderr).toContain(`billing: cannot reach Temporal at 127.0.0.1:${port}`);
    noStack(temporal.output);
  });
});
