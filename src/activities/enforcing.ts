// Enforcement actions (transitions, backups, servers) retry until they succeed: Temporal's retry
// policy has no attempt limit for them. Ops is told once, at a fixed attempt, when one keeps failing.
import { ENFORCEMENT_ALERT_AFTER_ATTEMPTS } from '../workflows/definitions.js';
import { type Logger } from '../platform/logger.js';
import { attempt } from './attempt.js';
import { AccountNotFoundError } from './errors.js';
import { type NotificationLedger } from './notification-ledger.js';

export function createEnforcing(alertOps: NotificationLedger['alertOps'], logger: Logger) {
  return async function enforcing<T>(
    what: string,
    input: { accountId: string; workflowId?: string },
    key: string,
    action: () => Promise<T>,
  ): Promise<T> {
    try {
      return await action();
    } catch (error) {
      if (error instanceof AccountNotFoundError) throw error;
      if (attempt() === ENFORCEMENT_ALERT_AFTER_ATTEMPTS) {
        const message = error instanceof Error ? error.message : String(error);
        await alertOps({
          accountId: input.accountId,
          ...(input.workflowId ? { workflowId: input.workflowId } : {}),
          idempotencyKey: `${key}:repeated-failure`,
          title: `Enforcement action keeps failing: ${what}`,
          detail: `Attempt ${attempt()} failed: ${message.slice(0, 300)}. Temporal keeps retrying with backoff.`,
        }).catch((alertError: unknown) => logger.error({ err: String(alertError) }, 'could not alert ops'));
      }
      throw error;
    }
  };
}

export type Enforcing = ReturnType<typeof createEnforcing>;
