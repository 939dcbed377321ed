// Started by the hourly Temporal Schedule (and by `billing reconcile`): one activity does the
// comparison with Stripe; the workflow gives it retries, a timeout and a place in the UI.
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { ReconciliationActivities, ReconcileOutcome } from '../reconciliation/activities.js';

const { reconcileWithStripe } = proxyActivities<ReconciliationActivities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '10 seconds', maximumInterval: '5 minutes', maximumAttempts: 5 },
  summary: 'Compare open invoices with Stripe',
});

export const RECONCILIATION_SCHEDULE_ID = 'billing-reconciliation';

export async function reconciliationWorkflow(): Promise<ReconcileOutcome> {
  const { workflowId, runId } = workflowInfo();
  return reconcileWithStripe({ runKey: `${workflowId}:${runId}` });
}
