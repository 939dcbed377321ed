import { type Client } from '@temporalio/client';
import { type FastifyInstance } from 'fastify';
import { type PrismaClient } from '../../db/client.js';

export interface HealthDeps {
  db: PrismaClient;
  temporal: Client;
  namespace: string;
  taskQueue: string;
}

/** A poller seen within this window counts as a live worker. */
const POLLER_FRESH_MS = 2 * 60_000;

async function check(name: string, probe: () => Promise<string | undefined>) {
  try {
    const detail = await probe();
    return { name, ok: true, ...(detail ? { detail } : {}) };
  } catch (error) {
    return { name, ok: false, detail: error instanceof Error ? error.message : String(error) };
  }
}

export function healthRoutes(app: FastifyInstance, deps: HealthDeps) {
  // The process is up: for restarts by systemd/compose, never depends on anything else.
  app.get('/healthz', { logLevel: 'silent' }, () => ({ status: 'ok' }));

  // Ready to serve: PostgreSQL and Temporal answer, and a worker polls the task queue.
  app.get('/readyz', { logLevel: 'silent' }, async (_request, reply) => {
    const checks = await Promise.all([
      check('postgres', async () => {
        await deps.db.$executeRaw`SELECT 1`;
        return undefined;
      }),
      check('temporal', async () => {
        await deps.temporal.workflowService.getSystemInfo({});
        return undefined;
      }),
      check('worker', async () => {
        const response = await deps.temporal.workflowService.describeTaskQueue({
          namespace: deps.namespace,
          taskQueue: { name: deps.taskQueue },
        });
        const fresh = (response.pollers ?? []).filter((p) => {
          const seconds = Number(p.lastAccessTime?.seconds ?? 0);
          return Date.now() - seconds * 1000 < POLLER_FRESH_MS;
        });
        if (fresh.length === 0) throw new Error(`no worker is polling task queue ${deps.taskQueue}`);
        return `${fresh.length} poller(s)`;
      }),
    ]);
    const ready = checks.every((c) => c.ok);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
  });
}
