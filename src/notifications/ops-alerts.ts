// Ops alerts raised outside a ladder (webhook orphans and disputes, reconciliation drift) go
// through the same Notification ledger and Discord adapter as the ladder's own.
import { type Activities } from '../activities/index.js';

export interface OpsAlert {
  accountId: string | null;
  /** Idempotency key: the same alert raised twice (a redelivered event) is posted once. */
  key: string;
  title: string;
  detail: string;
}

export type AlertOps = (alert: OpsAlert) => Promise<void>;

export function opsAlerter(activities: Pick<Activities, 'notifyDiscord'>): AlertOps {
  return async (alert) => {
    await activities.notifyDiscord({
      accountId: alert.accountId,
      channel: 'ops',
      idempotencyKey: alert.key,
      title: alert.title,
      detail: alert.detail,
    });
  };
}
