import { type Client } from '@temporalio/client';
import { type FastifyInstance, type FastifyReply } from 'fastify';
import { z } from 'zod';
import { errorResponses, json } from '../contract.js';
import { type PrismaClient } from '../../platform/database.js';
import {
  describeTaskQueueHealth,
  evaluateStaleness,
  type StalenessThresholds,
  type TaskQueueReport,
} from '../../platform/observability/task-queue.js';

export interface HealthDeps {
  db: PrismaClient;
  temporal: Client;
  namespace: string;
  taskQueue: string;
  /** When a worker counts as gone and a backlog as too old; the staleness check uses the same. */
  staleness?: StalenessThresholds;
}

/** Without configuration: a poller seen within 2 minutes counts as a live worker. */
const DEFAULT_STALENESS: StalenessThresholds = { maxPollerAgeSeconds: 120, maxBacklogAgeSeconds: 300 };

async function check(name: string, probe: () => Promise<string | undefined>) {
  try {
    const detail = await probe();
    return { name, ok: true, ...(detail ? { detail } : {}) };
  } catch (error) {
    return { name, ok: false, detail: error instanceof Error ? error.message : String(error) };
  }
}

const readinessSchema = z
  .object({
    status: z.enum(['ready', 'not_ready']),
    checks: z.array(
      z.object({
        name: z.enum(['postgres', 'temporal', 'worker']),
        ok: z.boolean(),
        detail: z.string().optional(),
      }),
    ),
    taskQueue: z.record(z.string(), z.unknown()).nullable().describe('pollers and backlog of the task queue'),
  })
  .meta({ id: 'Readiness' });

export const healthzSchema = {
  tags: ['ops'],
  operationId: 'healthz',
  summary: 'The process is up (for systemd / compose restarts)',
  response: {
    200: json(z.object({ status: z.literal('ok') }), 'Up'),
    ...errorResponses({ limited: false }),
  },
};

export function healthRoutes(app: FastifyInstance, deps: HealthDeps) {
  // The process is up: for restarts by systemd/compose, never depends on anything else.
  app.get('/healthz', { logLevel: 'silent', config: { rateLimit: false }, schema: healthzSchema }, () => ({
    status: 'ok' as const,
  }));

  // Ready to serve: PostgreSQL and Temporal answer, and a worker polls the task queue. The task
  // queue's pollers and backlog are reported too (`taskQueue`); an old backlog is a warning for
  // ops (the staleness check alerts on it), not a reason to take this service out of rotation.
  const readyz = {
    tags: ['ops'],
    operationId: 'readyz',
    summary: 'PostgreSQL and Temporal answer and a worker polls the task queue',
    response: {
      200: json(readinessSchema, 'Ready, with each check'),
      ...errorResponses(
        { limited: false },
        { 503: json(readinessSchema, 'Not ready, with the failing checks') },
      ),
    },
  };
  app.get(
    '/readyz',
    { logLevel: 'silent', config: { rateLimit: false }, schema: readyz },
    async (_request, reply) => {
      const limits = deps.staleness ?? DEFAULT_STALENESS;
      let taskQueue: TaskQueueReport | null = null;
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
          taskQueue = await describeTaskQueueHealth(
            deps.temporal.workflowService,
            deps.namespace,
            deps.taskQueue,
          );
          const [poller, backlog] = evaluateStaleness(taskQueue, limits);
          if (!poller!.ok) throw new Error(poller!.message);
          return `${poller!.message}; ${backlog!.message}`;
        }),
      ]);
      const ready = checks.every((c) => c.ok);
      return (reply as FastifyReply)
        .code(ready ? 200 : 503)
        .send({ status: ready ? 'ready' : 'not_ready', checks, taskQueue });
    },
  );
}
