import { createRequire } from 'node:module';
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { type Activities } from '../activities/index.js';
import { type ReconciliationActivities } from '../reconciliation/activities.js';

const require = createRequire(import.meta.url);

export interface BillingWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: Activities & Partial<ReconciliationActivities>;
  /** A prebuilt bundle (tests build it once); otherwise the workflows are bundled at start. */
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
}

export const workflowsPath = require.resolve('../workflows/index.ts');

export function createBillingWorker(options: BillingWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: options.activities,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath }),
    // SIGTERM: stop polling, let running activities finish within the grace time.
    shutdownGraceTime: options.shutdownGraceTime ?? 30_000,
    ...(options.shutdownForceTime ? { shutdownForceTime: options.shutdownForceTime } : {}),
    maxCachedWorkflows: options.maxCachedWorkflows ?? 250,
  });
}
