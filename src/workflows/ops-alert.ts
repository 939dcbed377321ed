// An ops alert raised outside a ladder (by the webhook: disputes, unknown customers), posted by
// the worker with Temporal's retries. The webhook hands the alert over after its transaction
// commits, so neither Discord's latency and rate limit nor its errors reach Stripe's delivery.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { NOTIFICATION_MAX_ATTEMPTS } from './definitions.js';

export interface OpsAlertWorkflowInput {
  accountId: string | null;
  /** The notification ledger's key: the alert is posted at most once whatever runs it. */
  idempotencyKey: string;
  title: string;
  detail: string;
  /** The Discord ops queue (rate-limited workers); absent: this workflow's own queue. */
  notificationTaskQueue?: string;
}

export async function opsAlertWorkflow(input: OpsAlertWorkflowInput): Promise<string> {
  const { notifyDiscord } = proxyActivities<Pick<Activities, 'notifyDiscord'>>({
    startToCloseTimeout: '1 minute',
    retry: {
      initialInterval: '2s',
      backoffCoefficient: 2,
      maximumInterval: '2 minutes',
      maximumAttempts: NOTIFICATION_MAX_ATTEMPTS,
    },
    ...(input.notificationTaskQueue ? { taskQueue: input.notificationTaskQueue } : {}),
    summary: `Discord (ops): ${input.title}`,
  });
  return notifyDiscord({
    accountId: input.accountId,
    channel: 'ops',
    idempotencyKey: input.idempotencyKey,
    title: input.title,
    detail: input.detail,
  });
}
