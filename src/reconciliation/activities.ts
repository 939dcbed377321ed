// The reconciliation activity: its own factory, next to the ladder's, registered on one worker.
import { ApplicationFailure } from '@temporalio/common';
import type Stripe from 'stripe';
import { type PrismaClient } from '../platform/database.js';
import { type AlertOps } from '../notifications/ops-alerts.js';
import { type Logger } from '../platform/logger.js';
import { reconciliationDrift } from '../platform/observability/metrics.js';
import { type LadderClient } from '../ladder/client.js';
import { heartbeat } from '../activities/attempt.js';
import { reconcileWithStripe, type ReconcileReport } from './reconcile.js';

export interface ReconciliationDeps {
  db: PrismaClient;
  ladder: LadderClient;
  /** Without a Stripe API key there is nothing to reconcile against. */
  stripe?: Stripe;
  minAmountDueCents: number;
  alertOps: AlertOps;
  logger: Logger;
}

export type ReconcileOutcome = ({ skipped: false } & ReconcileReport) | { skipped: true; reason: string };

export function createReconciliationActivities(deps: ReconciliationDeps) {
  return {
    async reconcileWithStripe(input: { runKey: string }): Promise<ReconcileOutcome> {
      if (!deps.stripe) {
        return { skipped: true, reason: 'STRIPE_SECRET_KEY is not configured' };
      }
      try {
        const report = await reconcileWithStripe(
          { ...deps, stripe: deps.stripe, progress: (done) => heartbeat({ done }) },
          input.runKey,
        );
        reconciliationDrift.inc({ kind: 'ladder_started' }, report.started.length);
        reconciliationDrift.inc({ kind: 'invoice_settled' }, report.settled.length);
        reconciliationDrift.inc({ kind: 'orphan' }, report.orphans.length);
        return { skipped: false, ...report };
      } catch (error) {
        // A rejected API key will not fix itself by retrying.
        if (error instanceof Error && error.name === 'StripeAuthenticationError') {
          throw ApplicationFailure.nonRetryable(
            `Stripe refused the API key: ${error.message}`,
            'StripeAuthenticationError',
          );
        }
        throw error;
      }
    },
  };
}

export type ReconciliationActivities = ReturnType<typeof createReconciliationActivities>;
