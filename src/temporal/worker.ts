import { createRequire } from 'node:module';
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { type Activities } from '../activities/index.js';

const require = createRequire(import.meta.url);

export interface BillingWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: Activities;
  /** A prebuilt bundle (tests build it once); otherwise the workflows are bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Milliseconds. */
  shutdownGraceTime?: number;
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
  });
}
