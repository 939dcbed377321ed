// The notification ledger's decisions, apart from its database and providers: what a row found
// for an idempotency key calls for, when a failed send is the last try, and which channels have
// their failures alerted. Pure, so the rules are tested without PostgreSQL or Temporal.
import { RateLimitedError, PermanentDeliveryError } from '../adapters/ports/notifications.js';

export interface LedgerRowState {
  status: string;
  sendingAt: Date | null;
}

/**
 * What to do with the row a key already has: `already_sent` and `unconfirmed` are final answers;
 * `mark_unconfirmed` is a send that a stopped worker left in doubt; `alert_failed` a row that
 * failed for good (its ops alert is keyed, so repeating it posts once); `send` tries again.
 */
export type LedgerStep = 'already_sent' | 'unconfirmed' | 'mark_unconfirmed' | 'alert_failed' | 'send';

export function stepFor(row: LedgerRowState): LedgerStep {
  if (row.status === 'sent' || row.status === 'logged') return 'already_sent';
  if (row.status === 'unconfirmed') return 'unconfirmed';
  if (row.sendingAt) return 'mark_unconfirmed';
  if (row.status === 'failed') return 'alert_failed';
  return 'send';
}

/** A provider that refused for good, or the last attempt Temporal will make: recorded failed. */
export function isLastAttempt(error: unknown, attempt: number, maxAttempts: number): boolean {
  return error instanceof PermanentDeliveryError || attempt >= maxAttempts;
}

/** The provider said when to come back: that, not the policy's backoff, is the next try. */
export function retryDelayMs(error: unknown): number | undefined {
  return error instanceof RateLimitedError ? Math.max(1, error.retryAfterMs) : undefined;
}

/** Ops alerts go through the ledger too; an alert about a failed alert would never end. */
export const alertsOnFailure = (channel: string): boolean => channel !== 'discord_ops';
