// One durable workflow per overdue account climbs the ladder declared in ladder.ts: overdue →
// (reminder) → final warning (backups blocked) → suspended (servers stopped) → retained →
// deletion review due. Settling every open invoice, or an admin's forced restore, restores access
// and ends it at any rung. Nothing is ever deleted here.
//
// The story: wait for the next rung or a message; climb when the rung is due; restore when
// nothing is owed, even in the middle of a rung (preempt.ts). State lives in ladder-state.ts,
// messages in messages.ts, rungs in climb.ts.
import { allHandlersFinished, condition, continueAsNew, patched, workflowInfo } from '@temporalio/workflow';
import { type EnforcementInput, type EnforcementResult } from './definitions.js';
import { climb, restore } from './climb.js';
import { LadderState } from './ladder-state.js';
import { registerHandlers } from './messages.js';

/** How often a held suspension re-counts the trailing window on its own. */
const SUSPENSION_HOLD_RECHECK = '10 minutes';

export async function billingEnforcementWorkflow(input: EnforcementInput): Promise<EnforcementResult> {
  const ladder = new LadderState(input);
  registerHandlers(ladder);
  ladder.publish();

  if (ladder.s.state === 'active') {
    // signalWithStart delivers paymentFailed before the first line of this function runs. Its
    // payment can come in the same workflow task (Stripe delivers them back to back): then
    // nothing is owed and the ladder ends now, not after a day's wait (ladders started before
    // this waited; patched so they replay as they ran).
    const endsOnSettle = patched('settled-before-overdue-ends');
    const overdue = await condition(
      () =>
        ladder.s.openInvoices.length > 0 ||
        ladder.restoreRequest !== null ||
        (endsOnSettle && ladder.s.settledInvoiceIds.length > 0),
      '1 day',
      { summary: 'Wait for a failed payment' },
    );
    if (!overdue || ladder.restoreRequest || ladder.s.openInvoices.length === 0) return restore(ladder);
    await climb(ladder, 'overdue');
    // Still active: paid before the overdue rung's transition (preempted); nothing to lift.
    if (ladder.s.state === 'active') return restore(ladder);
    ladder.publish();
  }

  const stopWaiting = () => ladder.shouldRestore() || ladder.halted();
  for (;;) {
    if (ladder.shouldRestore()) return restore(ladder);
    if (ladder.halted()) {
      await ladder.waitForChange(() => ladder.shouldRestore());
    } else {
      const next = ladder.nextRung();
      const since = ladder.wakes();
      const waitMs = next ? Date.parse(next.at) - Date.now() : Infinity;
      if (!next) {
        // Deletion review is due: only a payment or a forced restore ends the workflow.
        await ladder.waitForChange(stopWaiting);
      } else if (waitMs > 0) {
        await ladder.waitForChange(stopWaiting, {
          timeout: waitMs,
          summary: `Until ${next.rung.replace('_', ' ')} at ${next.at}`,
        });
      } else {
        ladder.climbing = next.rung;
        const climbed = await climb(ladder, next.rung);
        ladder.climbing = null;
        if (climbed === 'held') {
          await ladder.waitForChange(() => stopWaiting() || ladder.s.suspensionHoldReleased !== null, {
            since,
            timeout: SUSPENSION_HOLD_RECHECK,
            summary: 'Suspension held by the circuit breaker: recount',
          });
        }
        ladder.publish();
      }
    }
    await continueAsNewIfDue(ladder);
  }
}

/** Hands over to a fresh run once history is long, after every message handler has finished. */
async function continueAsNewIfDue(ladder: LadderState) {
  const { historyLength, continueAsNewSuggested } = workflowInfo();
  const limit = ladder.input.continueAsNewAfterEvents;
  if (!continueAsNewSuggested && !(limit !== undefined && historyLength >= limit)) return;
  await condition(allHandlersFinished);
  // The adopted policy travels as the input's: the next run starts where this one stands.
  await continueAsNew<typeof billingEnforcementWorkflow>({
    ...ladder.input,
    policy: ladder.policy,
    carried: ladder.s,
  });
}
