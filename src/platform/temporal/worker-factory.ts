import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { type Activities } from '../../activities/index.js';
import { MAX_EMBEDS_PER_MESSAGE } from '../../adapters/ports/notifications.js';
import { type ReconciliationActivities } from '../../reconciliation/activities.js';
import { notificationTaskQueuesFor } from '../../workflows/definitions.js';
import { bundleWorkflowsOutOfProcess } from './workflow-bundle.js';

export interface BillingWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: Activities & Partial<ReconciliationActivities>;
  /** A prebuilt bundle (tests build it once); otherwise bundled at start, in a child process. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Milliseconds. */
  shutdownGraceTime?: number;
  /** Milliseconds; after it the run fails even if an activity ignores its cancellation. */
  shutdownForceTime?: number;
  /**
   * Ladders kept in memory. A ladder waits days between steps, so caching them all only costs
   * memory (about 1 MB each was measured); an evicted one is replayed when its timer fires.
   */
  maxCachedWorkflows?: number;
  /** How the worker names itself to the server; the SDK's default is pid@host. */
  identity?: string;
}

export { workflowsPath } from './workflow-bundle.js';

/**
 * Node flags the worker is started with everywhere (Dockerfile, docker-compose, systemd, npm run
 * dev, the benchmark). Without a cap V8 lets the heap grow to a large share of the machine before
 * it collects; the worker's live heap stays near 100 MB (a bounded workflow cache, bounded
 * activity slots), so 256 MB only makes the collector work sooner (bench/README.md, open ladders).
 */
export const WORKER_NODE_FLAGS = ['--max-old-space-size=256'] as const;

export async function createBillingWorker(options: BillingWorkerOptions): Promise<Worker> {
  const workflowBundle = options.workflowBundle ?? (await bundleWorkflowsOutOfProcess());
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: options.activities,
    workflowBundle,
    // SIGTERM: stop polling, let running activities finish within the grace time.
    shutdownGraceTime: options.shutdownGraceTime ?? 30_000,
    ...(options.shutdownForceTime ? { shutdownForceTime: options.shutdownForceTime } : {}),
    maxCachedWorkflows: options.maxCachedWorkflows ?? 250,
    ...(options.identity ? { identity: options.identity } : {}),
  });
}

export interface NotificationWorkersOptions {
  connection: NativeConnection;
  namespace: string;
  /** The ladder task queue; the notification queues are derived from it. */
  taskQueue: string;
  activities: Pick<Activities, 'sendCustomerEmail' | 'notifyDiscord'>;
  /** The providers' rates: Resend per account, Discord per webhook. */
  emailPerSecond: number;
  discordPerSecond: number;
  shutdownGraceTime?: number;
  shutdownForceTime?: number;
}

/**
 * Activity-only workers for the notification queues, one per provider limit (Resend; each
 * Discord webhook). Temporal hands out their tasks no faster than the provider allows: the
 * server-side limit holds across all workers on the queue, the worker-side one on servers that
 * lack it (the time-skipping test server). A herd's notifications wait in the queue without
 * spending attempts, so none fails for being one of many.
 */
export function createNotificationWorkers(options: NotificationWorkersOptions): Promise<Worker[]> {
  const queues = notificationTaskQueuesFor(options.taskQueue);
  const common = {
    connection: options.connection,
    namespace: options.namespace,
    shutdownGraceTime: options.shutdownGraceTime ?? 30_000,
    ...(options.shutdownForceTime ? { shutdownForceTime: options.shutdownForceTime } : {}),
    // Tasks come at the provider's rate; a few slots cover the provider's latency.
    maxConcurrentActivityTaskExecutions: 10,
  };
  const limited = (perSecond: number) => ({
    maxTaskQueueActivitiesPerSecond: perSecond,
    maxActivitiesPerSecond: perSecond,
  });
  return Promise.all([
    Worker.create({
      ...common,
      taskQueue: queues.email,
      activities: { sendCustomerEmail: options.activities.sendCustomerEmail },
      ...limited(options.emailPerSecond),
    }),
    // Billing posts go out in digests of up to 10 per message (activities/discord-digest.ts):
    // the queue hands out posts at 10 times the message rate, and twice a message's worth of
    // slots lets the next digest gather while one is being posted.
    Worker.create({
      ...common,
      taskQueue: queues.discordBilling,
      activities: { notifyDiscord: options.activities.notifyDiscord },
      ...limited(options.discordPerSecond * MAX_EMBEDS_PER_MESSAGE),
      maxConcurrentActivityTaskExecutions: 2 * MAX_EMBEDS_PER_MESSAGE,
    }),
    // Ops alerts stay one message each: each may call for action.
    Worker.create({
      ...common,
      taskQueue: queues.discordOps,
      activities: { notifyDiscord: options.activities.notifyDiscord },
      ...limited(options.discordPerSecond),
    }),
  ]);
}

/** Runs the workers until all have stopped; if one fails, the others are shut down too. */
export async function runWorkers(workers: Worker[]): Promise<void> {
  await Promise.all(
    workers.map((worker) =>
      worker.run().catch((error: unknown) => {
        for (const other of workers) if (other.getState() === 'RUNNING') other.shutdown();
        throw error;
      }),
    ),
  );
}
