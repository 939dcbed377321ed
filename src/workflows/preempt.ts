// A payment (or an admin's forced restore) preempts the rung in progress. Between each step of a
// rung the ladder asks whether the account has settled; once it has, no further enforcement step
// starts, and notifications still waiting on the rate-limited queues are cancelled rather than
// awaited: a customer who pays never waits behind a herd's emails and Discord posts.
//
// Ladders started before this record no marker and replay exactly as they ran (patched()).
// The decision is taken at the start of each rung and of the restore, where the marker lands.
import { CancellationScope, condition, patched } from '@temporalio/workflow';
import { type LadderState } from './ladder-state.js';

export const PREEMPT_PATCH = 'payment-preempts-rung';

/** Whether this rung (or restore) may be preempted: asked once, at its start. */
export function preempting(): boolean {
  return patched(PREEMPT_PATCH);
}

/** True once the rung is moot: only for ladders that preempt (old histories never are). */
export const mootFor = (ladder: LadderState, preempts: boolean) => () => preempts && ladder.settling();

/**
 * Sends a rung's notifications. Preempting ladders send them side by side in a cancellable scope
 * raced against the settling payment: settled first, the ones still queued are cancelled (a queued
 * activity is removed at once; one already sending finishes, and the notification ledger keeps it
 * from going out twice) and the rung ends. Returns true when the payment came first.
 */
export async function sendUnlessSettled(
  ladder: LadderState,
  preempts: boolean,
  sends: (() => Promise<void>)[],
): Promise<boolean> {
  if (!preempts) {
    for (const send of sends) await send();
    return false;
  }
  if (sends.length === 0) return false;
  if (ladder.settling()) return true;
  const scope = new CancellationScope();
  let sent = false;
  const sending = scope
    .run(() => Promise.all(sends.map((send) => send())))
    .then(() => {
      sent = true;
    });
  await condition(() => sent || ladder.settling());
  if (sent) return false;
  scope.cancel();
  // Each cancelled send resolves at once (TRY_CANCEL) with its "dropped" label.
  await sending;
  return true;
}
