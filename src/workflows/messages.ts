// The ladder's signals (Stripe, through the webhook), its status query and its admin updates.
//
// Handlers run between the main loop's awaits, so each one was checked against every await of
// every rung in progress (climb.ts): the flag read, the transition, the enforcement, the email
// and the Discord post, and the restore's own.
// - invoiceSettled (the last open invoice) / forceRestore during a rung: the rung is preempted
//   (preempt.ts). The activity in flight finishes; no later step of the rung starts, its
//   notifications still queued are cancelled, and the loop restores at once. Ladders started
//   before this (no marker in their history) finish the rung first, as they always did.
// - paymentFailed / disputeOpened / pause during a rung: they only change what the loop reads
//   after the rung (halt); the rung in progress completes first, as its deadline had passed
//   when it began.
// - extendGrace / resume during a rung: `postpone` moves whichever deadline comes next. Before
//   the retained rung that is the rung offsets; from the moment it begins (retainUntil is set
//   before its first await) it is the end of retention. During the deletion-review rung there is
//   nothing left to postpone: extendGrace is refused, as it is once the review is due.
// - releaseSuspensionHold during the circuit breaker's claim: recorded; the recount that follows
//   wakes at once and claims again with the bypass.
// - approveDeletionReview requires the review to be due, which is set after its flag is written.
// - extendGrace during the overdue rung itself is refused as "not overdue yet" (the state turns
//   overdue when its transition answers): refused, so the admin knows to ask again.
// - applyPolicy during a rung: the rung in progress finishes as it began (its dry-run decision
//   was taken at its start); the adopted policy is read from the next rung on, and what a switch
//   to enforce owes is worked out from the state the rung leaves (ladder.ts owedRungs), so a
//   rung climbed in dry-run while the switch arrived is owed too.
// - any admin update during a restore is refused (`finishing`); a payment that fails during a
//   restore starts a fresh ladder once the restore is done (restore in climb.ts). A dispute or a
//   settlement then changes nothing: the account is being restored anyway.
import { type UpdateDefinition } from '@temporalio/common';
import { patched, setHandler } from '@temporalio/workflow';
import { adminInputIssues, applyPolicyInputIssues } from './admin-input.js';
import {
  applyPolicyUpdate,
  approveDeletionReviewUpdate,
  DEFAULT_MIN_NOTICE_HOURS,
  disputeOpenedSignal,
  extendGraceUpdate,
  forceRestoreUpdate,
  invoiceSettledSignal,
  MAX_REMEMBERED_EVENT_IDS,
  pauseUpdate,
  paymentFailedSignal,
  policyPreviewQuery,
  releaseSuspensionHoldUpdate,
  resumeUpdate,
  statusQuery,
  type AdminInput,
  type EnforcementStatus,
} from './definitions.js';
import { audit, recordPolicyAdoption } from './climb.js';
import { nowIso, type LadderState } from './ladder-state.js';

const HOUR_MS = 3_600_000;

/**
 * Ladders that adopted a policy (applyPolicy) carry this marker. No recorded ladder of the
 * earlier shape ever received the update, so none replays differently; the marker lets a later
 * change of the adoption rules tell apart the ladders that adopted under these ones.
 */
export const POLICY_ADOPTION_PATCH = 'policy-adoption';

/**
 * Ladders that write the policy they adopt to the account row at once (with the audit row, in
 * one activity), so the gates follow a switch of mode without waiting for the next transition.
 * Recorded ladders that adopted before it replay the audit alone.
 */
export const POLICY_ON_ACCOUNT_PATCH = 'policy-on-account';

/**
 * Ladders started before the signal handlers wrote their decisions to the audit trail (and before
 * a dispute freeze published the halted ladder's search attributes and details) replay without
 * those commands: test/histories/dispute-freeze-repeated-failure-before-audit.pb.
 */
export const SIGNAL_DECISIONS_RECORDED = 'signal-decisions-recorded';

/**
 * A decision a signal handler took, written to the audit trail as well as to the workflow's
 * history. The row is keyed by the ladder's step, so a retried activity writes it once; the
 * Stripe event id in the detail ties it to what caused it. An audit that cannot be written
 * (the account row is gone) never fails the ladder from a signal handler.
 */
async function auditDecision(
  ladder: LadderState,
  kind: string,
  reason: string,
  detail: Record<string, unknown>,
) {
  if (!patched(SIGNAL_DECISIONS_RECORDED)) return;
  try {
    await audit(ladder, kind, { actor: 'workflow', reason }, detail);
  } catch {
    ladder.record('audit_failed', { detail: kind });
  }
}

interface AdminUpdate<I extends AdminInput> {
  /** Input rules beyond who-and-why, checked before the update is accepted into history. */
  refuse?: () => string | null;
  hours?: boolean;
  /** Changes the state; returns what the audit entry adds to who and why. */
  apply: (input: I) => Record<string, unknown> | void;
  audit: string;
  /** The update can move the next deadline: waits re-evaluate. */
  wakes: boolean;
  /** Search attributes and UI details change with it. */
  publishes: boolean;
}

/** One admin update: validate, apply and record, wake, publish, audit, answer with the status. */
function adminUpdate<I extends AdminInput>(
  ladder: LadderState,
  definition: UpdateDefinition<EnforcementStatus, [I]>,
  spec: AdminUpdate<NoInfer<I>>,
) {
  setHandler(
    definition,
    async (input) => {
      const detail = spec.apply(input) ?? {};
      if (spec.wakes) ladder.wake();
      if (spec.publishes) ladder.publish();
      await audit(ladder, spec.audit, input, detail);
      return ladder.status();
    },
    {
      validator: (input: I) => {
        const issues = adminInputIssues(input, { hours: spec.hours });
        if (issues.length > 0) throw new Error(`invalid input: ${issues.join('; ')}`);
        if (ladder.finishing) throw new Error('the ladder is already being restored');
        const refused = spec.refuse?.();
        if (refused) throw new Error(refused);
      },
    },
  );
}

export function registerHandlers(ladder: LadderState) {
  const s = ladder.s;

  setHandler(paymentFailedSignal, async (e) => {
    if (ladder.alreadyApplied(e.eventId)) return;
    if (s.settledInvoiceIds.includes(e.invoiceId)) {
      ladder.record('payment_failed_ignored', { detail: `${e.invoiceId} is already settled` });
      await auditDecision(ladder, 'payment_failed_ignored', `${e.invoiceId} is already settled`, {
        invoiceId: e.invoiceId,
        eventId: e.eventId,
      });
      return;
    }
    const open = s.openInvoices.find((i) => i.invoiceId === e.invoiceId);
    if (open) {
      open.failures++;
    } else {
      s.openInvoices.push({
        invoiceId: e.invoiceId,
        firstFailedAt: e.at,
        failures: 1,
        amountDue: e.amountDue,
        currency: e.currency,
      });
    }
    ladder.wake();
    // A repeated failure is recorded; it never restarts the ladder.
    if (s.state !== 'active') {
      ladder.record('payment_failed_again', { detail: e.invoiceId });
      const failures = open?.failures ?? 1;
      await auditDecision(
        ladder,
        'payment_failed_again',
        open
          ? `${e.invoiceId} failed again (failure ${failures})`
          : `${e.invoiceId} failed as well (${s.openInvoices.length} invoices open)`,
        { invoiceId: e.invoiceId, eventId: e.eventId, failures, state: s.state },
      );
    }
  });

  setHandler(invoiceSettledSignal, (e) => {
    if (ladder.alreadyApplied(e.eventId)) return;
    // How the invoices that drove the ladder were settled says why it restores (paid or voided).
    if (s.openInvoices.some((i) => i.invoiceId === e.invoiceId))
      s.settlements = [...(s.settlements ?? []), e.how];
    s.openInvoices = s.openInvoices.filter((i) => i.invoiceId !== e.invoiceId);
    if (!s.settledInvoiceIds.includes(e.invoiceId)) s.settledInvoiceIds.push(e.invoiceId);
    if (s.settledInvoiceIds.length > MAX_REMEMBERED_EVENT_IDS) s.settledInvoiceIds.shift();
    ladder.record('invoice_settled', {
      detail: `${e.invoiceId} ${e.how}; ${s.openInvoices.length} still open`,
    });
    ladder.wake();
  });

  setHandler(disputeOpenedSignal, async (e) => {
    if (ladder.alreadyApplied(e.eventId)) return;
    const already = s.disputeFrozen;
    // Remembered past a resume: the dispute stays open until a restore ends the ladder.
    s.dispute = { disputeId: e.disputeId, at: e.at };
    if (!already) {
      s.disputeFrozen = { disputeId: e.disputeId, at: nowIso() };
      s.haltedSince ??= nowIso();
    }
    ladder.record('dispute_freeze', { detail: `dispute ${e.disputeId}: frozen until an admin resumes` });
    ladder.wake();
    // Halted: no next action, so list queries on BillingNextActionAt stop finding it as due.
    if (patched(SIGNAL_DECISIONS_RECORDED)) ladder.publish();
    await auditDecision(
      ladder,
      'dispute_freeze',
      already
        ? `dispute ${e.disputeId}: already frozen by dispute ${already.disputeId}`
        : `dispute ${e.disputeId}: frozen until an admin resumes`,
      { disputeId: e.disputeId, eventId: e.eventId, state: s.state },
    );
  });

  setHandler(statusQuery, () => ladder.status());

  const minNoticeMs = (hours: number | undefined) => (hours ?? DEFAULT_MIN_NOTICE_HOURS) * HOUR_MS;

  setHandler(policyPreviewQuery, ({ policy, minNoticeHours, at }) =>
    ladder.change(policy, minNoticeMs(minNoticeHours), at ? Date.parse(at) : Date.now()),
  );

  setHandler(
    applyPolicyUpdate,
    async (input) => {
      const notice = minNoticeMs(input.minNoticeHours);
      const change = ladder.change(input.policy, notice, Date.now());
      // Safe to send twice: the second finds the ladder on that version and mode already.
      if (change.current) return { outcome: 'already_current', change, status: ladder.status() };
      patched(POLICY_ADOPTION_PATCH);
      ladder.adopt(input.policy, notice);
      const mode = (dryRun: boolean) => (dryRun ? 'dry-run' : 'enforce');
      ladder.record('policy_adopted', {
        detail: `${change.from.version} (${mode(change.from.dryRun)}) -> ${change.to.version} (${mode(change.to.dryRun)}) by ${input.actor}: ${input.reason}`,
      });
      ladder.wake();
      ladder.publish();
      const detail = {
        from: { version: change.from.version, mode: mode(change.from.dryRun) },
        to: { version: change.to.version, mode: mode(change.to.dryRun) },
        minNoticeHours: notice / HOUR_MS,
        nextActionBefore: change.from.nextAction,
        nextActionAfter: ladder.nextAction(),
      };
      if (patched(POLICY_ON_ACCOUNT_PATCH)) {
        await recordPolicyAdoption(ladder, input, change.from, detail);
      } else {
        await audit(ladder, 'admin_apply_policy', input, detail);
      }
      return { outcome: 'applied', change, status: ladder.status() };
    },
    {
      validator: (input) => {
        const issues = applyPolicyInputIssues(input);
        if (issues.length > 0) throw new Error(`invalid input: ${issues.join('; ')}`);
        if (ladder.finishing) throw new Error('the ladder is already being restored');
      },
    },
  );

  adminUpdate(ladder, pauseUpdate, {
    refuse: () => (s.paused ? `already paused by ${s.paused.actor}` : null),
    apply: (mark) => {
      s.paused = { ...mark, at: nowIso() };
      s.haltedSince ??= nowIso();
      ladder.record('paused', { detail: `${mark.actor}: ${mark.reason}` });
    },
    audit: 'admin_pause',
    wakes: true,
    publishes: true,
  });

  adminUpdate(ladder, resumeUpdate, {
    refuse: () => (!s.paused && !s.disputeFrozen ? 'the ladder is neither paused nor frozen' : null),
    apply: (mark) => {
      const haltedMs = s.haltedSince ? Date.now() - Date.parse(s.haltedSince) : 0;
      // Time spent halted does not count towards the next rung.
      ladder.postpone(haltedMs);
      const wasFrozen = s.disputeFrozen;
      s.paused = null;
      s.disputeFrozen = null;
      s.haltedSince = null;
      ladder.record('resumed', { detail: `${mark.actor}: ${mark.reason}` });
      return { haltedMs, dispute: wasFrozen?.disputeId ?? null };
    },
    audit: 'admin_resume',
    wakes: true,
    publishes: true,
  });

  adminUpdate(ladder, extendGraceUpdate, {
    hours: true,
    refuse: () => {
      if (s.state === 'active') return 'the account is not overdue yet';
      if (s.deletionReviewDueAt || ladder.climbing === 'deletion_review')
        return 'retention has already ended; the deletion review is due';
      return null;
    },
    apply: (req) => {
      ladder.postpone(req.hours * HOUR_MS);
      s.graceExtendedHours += req.hours;
      ladder.record('grace_extended', { detail: `+${req.hours} h by ${req.actor}: ${req.reason}` });
      return { hours: req.hours };
    },
    audit: 'admin_extend_grace',
    wakes: true,
    publishes: true,
  });

  adminUpdate(ladder, forceRestoreUpdate, {
    refuse: () => (ladder.restoreRequest ? 'a restore was already requested' : null),
    apply: (mark) => {
      ladder.restoreRequest = { ...mark, at: nowIso() };
    },
    audit: 'admin_force_restore',
    wakes: true,
    publishes: false,
  });

  adminUpdate(ladder, releaseSuspensionHoldUpdate, {
    refuse: () => (s.suspensionHold ? null : 'no suspension is held by the circuit breaker'),
    apply: (mark) => {
      s.suspensionHoldReleased = { ...mark, at: nowIso() };
      ladder.record('suspension_hold_released', { detail: `${mark.actor}: ${mark.reason}` });
    },
    audit: 'admin_release_suspension_hold',
    wakes: true,
    publishes: false,
  });

  adminUpdate(ladder, approveDeletionReviewUpdate, {
    refuse: () => {
      if (!s.deletionReviewDueAt) return 'the account is not due for deletion review';
      if (s.deletionReviewApproval) return `already approved by ${s.deletionReviewApproval.actor}`;
      return null;
    },
    // Records who approved what, when and why. It deletes nothing and does not end the
    // workflow: the deletion is a person's job, and a payment before then still restores.
    apply: (mark) => {
      s.deletionReviewApproval = { ...mark, at: nowIso() };
      ladder.record('deletion_review_approved', { detail: `${mark.actor}: ${mark.reason}` });
    },
    audit: 'admin_approve_deletion_review',
    wakes: false,
    publishes: false,
  });
}
