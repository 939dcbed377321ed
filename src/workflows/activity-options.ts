// How the ladder calls its activities: retries, timeouts, the notification queues, and the
// summary the Temporal UI shows next to each call.
import { proxyActivities, workflowInfo, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { NON_RETRYABLE_ERROR_TYPES, NOTIFICATION_MAX_ATTEMPTS } from './definitions.js';

// Enforcement actions (state, backups, servers) retry with backoff until they succeed; the
// activities alert ops when they keep failing. Notifications fail soft after a few attempts.
export const ENFORCE: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '10 minutes',
    nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
  },
};
export const SERVERS: ActivityOptions = {
  ...ENFORCE,
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '5 minutes',
};
const NOTIFY: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  // A preempted notification (preempt.ts) resolves at once: one already being sent finishes on
  // its own, through the ledger. Only preempting ladders ever cancel one.
  cancellationType: 'TRY_CANCEL',
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '2 minutes',
    maximumAttempts: NOTIFICATION_MAX_ATTEMPTS,
  },
};

/** NOTIFY on the given queue (the ladder's own when the input names none). */
export const notifyOn = (taskQueue: string | undefined): ActivityOptions =>
  taskQueue ? { ...NOTIFY, taskQueue } : NOTIFY;

/** Activities with a summary that the Temporal UI shows next to the call. */
export const act = (options: ActivityOptions, summary: string) =>
  proxyActivities<Activities>({ ...options, summary });

export const run = () => {
  const info = workflowInfo();
  return { workflowId: info.workflowId, runId: info.firstExecutionRunId };
};
