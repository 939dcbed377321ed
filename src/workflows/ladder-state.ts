// What one ladder knows between its awaits, and the few rules that read it: what is next, is it
// halted, should it restore, what the status query and the Temporal UI show. Carried across
// continueAsNew as `CarriedState`; the rest lives only as long as a run.
import { condition, setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import {
  BillingAccountId,
  BillingNextActionAt,
  BillingOverdueSince,
  BillingStateAttr,
  MAX_HISTORY,
  MAX_REMEMBERED_EVENT_IDS,
  type AdminMark,
  type CarriedState,
  type EnforcementInput,
  type EnforcementPolicy,
  type EnforcementStatus,
  type PolicyChange,
  type PolicyStanding,
  type Rung,
} from './definitions.js';
import { adoption, isCurrent, nextAction, nextRung, type RungName, type Scheduled } from './ladder.js';
import { policyDetails } from '../platform/policy-summary.js';
import { amountsDue, currentOrLast, drivesLadder, modeOf } from './account-rules.js';

export function freshState(): CarriedState {
  return {
    state: 'active',
    overdueSince: null,
    openInvoices: [],
    settledInvoiceIds: [],
    appliedEventIds: [],
    shiftMs: 0,
    graceExtendedHours: 0,
    paused: null,
    haltedSince: null,
    disputeFrozen: null,
    suspensionHold: null,
    suspensionHoldReleased: null,
    retainUntil: null,
    deletionReviewDueAt: null,
    deletionReviewApproval: null,
    history: [],
    stepSeq: 0,
  };
}

export const nowIso = () => new Date(Date.now()).toISOString();

export class LadderState {
  readonly s: CarriedState;
  readonly accountId: string;
  /** The policy it started with, until applyPolicy hands it another (carried by continueAsNew). */
  policy: EnforcementPolicy;
  /** Keys stay stable across continueAsNew: the first run's id names the whole ladder. */
  readonly ladderKey: string;
  restoreRequest: AdminMark | null = null;
  restored: EnforcementStatus['restored'] = null;
  /** Set once the restore has begun: admin updates are refused from then on. */
  finishing = false;
  /** The rung whose activities are being awaited, if any: message handlers run in between. */
  climbing: RungName | null = null;
  /** Bumped by every message that can move the next deadline, so waits re-evaluate. */
  private generation = 0;

  constructor(readonly input: EnforcementInput) {
    this.s = input.carried ?? freshState();
    this.accountId = input.accountId;
    this.policy = input.policy;
    const info = workflowInfo();
    this.ladderKey = `${info.workflowId}:${info.firstExecutionRunId}`;
  }

  halted(): boolean {
    return this.s.paused !== null || this.s.disputeFrozen !== null;
  }

  shouldRestore(): boolean {
    return this.restoreRequest !== null || (this.s.state !== 'active' && this.s.openInvoices.length === 0);
  }

  /**
   * Nothing is owed any more, or an admin forced the restore: the rung in progress is moot
   * (preempt.ts). Unlike shouldRestore it also holds before the overdue rung's transition.
   */
  settling(): boolean {
    return this.restoreRequest !== null || this.s.openInvoices.length === 0;
  }

  /** What happens to the customer next (null while halted or restored). */
  nextAction(): { rung: Rung; at: string } | null {
    return nextAction(this.s, this.policy);
  }

  /** The next rung the workflow waits for, the reminder included. */
  nextRung(): Scheduled | null {
    return nextRung(this.s, this.policy, Date.now());
  }

  /** Where the ladder would stand on `policy`, adopted now with `minNoticeMs` of notice. */
  standing(policy: EnforcementPolicy, minNoticeMs: number | null, now: number): PolicyStanding {
    const position =
      minNoticeMs === null ? this.s : { ...this.s, ...adoption(this.policy, policy, now, minNoticeMs) };
    const live = !this.halted() && !this.restored;
    return {
      version: policy.version,
      dryRun: policy.dryRun,
      nextAction: live ? nextAction(position, policy) : null,
      nextRung: live ? nextRung(position, policy, now) : null,
    };
  }

  /** What adopting `policy` would change (the ladder answers for itself: plan is what apply does). */
  change(policy: EnforcementPolicy, minNoticeMs: number, now: number): PolicyChange {
    return {
      accountId: this.accountId,
      state: this.s.state,
      current: isCurrent(this.policy, policy),
      from: this.standing(this.policy, null, now),
      to: this.standing(policy, minNoticeMs, now),
    };
  }

  /** Adopts `policy` now: every deadline is recomputed from it (ladder.ts `adoption`). */
  adopt(policy: EnforcementPolicy, minNoticeMs: number) {
    Object.assign(this.s, adoption(this.policy, policy, Date.now(), minNoticeMs));
    this.policy = policy;
  }

  /**
   * After a switch to enforce, every rung the ladder lands counts as landed for real and anchors
   * the full gaps of the rungs after it. `since` is the switch the rung was decided under.
   */
  landed(rung: RungName, since: string | null | undefined) {
    const s = this.s;
    if (!since || s.realFrom !== since) return;
    s.realRungs = [...(s.realRungs ?? []), rung];
    s.anchor = { rung, at: nowIso(), shiftMs: s.shiftMs };
  }

  nextStep(kind: string): string {
    return `${++this.s.stepSeq}:${kind}`;
  }

  record(kind: string, extra: { actions?: string[]; detail?: string } = {}) {
    const { history } = this.s;
    history.push({ at: nowIso(), kind, state: this.s.state, ...extra });
    if (history.length > MAX_HISTORY) history.splice(0, history.length - MAX_HISTORY);
  }

  /** True when a Stripe event was applied before (the webhook may deliver one twice). */
  alreadyApplied(eventId: string): boolean {
    const ids = this.s.appliedEventIds;
    if (ids.includes(eventId)) return true;
    ids.push(eventId);
    if (ids.length > MAX_REMEMBERED_EVENT_IDS) ids.shift();
    return false;
  }

  /**
   * Moves the next deadline back. Once the retained rung has begun (retainUntil is set before its
   * activities are awaited) the deadline is the end of retention, even while the state still
   * reads `suspended`: shifting the rung offsets then would be audited but never read.
   */
  postpone(ms: number) {
    const s = this.s;
    if (s.retainUntil) s.retainUntil = new Date(Date.parse(s.retainUntil) + ms).toISOString();
    else s.shiftMs += ms;
  }

  /** A message changed something a wait depends on. */
  wake() {
    this.generation++;
  }

  /**
   * Waits until `done` holds or a message wakes the ladder (or the timeout passes). `since`
   * counts wakes from an earlier moment, so a message that arrived in between still counts.
   */
  waitForChange(
    done: () => boolean,
    options: { timeout?: number | string; summary?: string; since?: number } = {},
  ): Promise<boolean> {
    const since = options.since ?? this.generation;
    const ready = () => done() || this.generation !== since;
    if (options.timeout === undefined) return condition(ready).then(() => true);
    if (options.summary === undefined) return condition(ready, options.timeout);
    return condition(ready, options.timeout, { summary: options.summary });
  }

  wakes(): number {
    return this.generation;
  }

  /** A query: the same rules as the account's read model (account-rules.ts), on the ladder's state. */
  status(): EnforcementStatus {
    const s = this.s;
    const over = this.restored !== null;
    // Invoices the workflow was told of failed above the minimum; one from a signal without an
    // amount (older webhooks) counts as driving, which is why the ladder holds it.
    const openInvoices = s.openInvoices.map((invoice) => ({
      ...invoice,
      drivesLadder:
        invoice.amountDue === undefined ||
        drivesLadder({ status: 'open', amountDue: invoice.amountDue }, this.policy.minAmountDueCents),
    }));
    const dispute = s.dispute ?? (s.disputeFrozen ? { ...s.disputeFrozen } : null);
    const disputes = currentOrLast(dispute, over);
    const review = s.deletionReviewDueAt
      ? { dueAt: s.deletionReviewDueAt, approval: s.deletionReviewApproval }
      : null;
    const reviews = currentOrLast(review, over);
    return {
      accountId: this.accountId,
      state: s.state,
      policyVersion: this.policy.version,
      dryRun: this.policy.dryRun,
      mode: modeOf(this.policy.dryRun),
      overdueSince: s.overdueSince,
      openInvoices,
      ladderAmountDue: amountsDue(openInvoices.filter((i) => i.drivesLadder)),
      nextAction: this.halted() || over ? null : this.nextAction(),
      paused: s.paused,
      disputeFrozen: over ? null : s.disputeFrozen,
      dispute: disputes.current ? { ...disputes.current, frozen: s.disputeFrozen !== null } : null,
      lastDispute: disputes.last,
      suspensionHold: s.suspensionHold,
      graceExtendedHours: s.graceExtendedHours,
      retainUntil: s.retainUntil,
      deletionReviewDueAt: over ? null : s.deletionReviewDueAt,
      deletionReviewApproval: over ? null : s.deletionReviewApproval,
      deletionReview: reviews.current,
      lastDeletionReview: reviews.last,
      restored: this.restored,
      history: s.history,
    };
  }

  /** Search attributes (for finding ladders) and the one-paragraph summary the UI shows. */
  publish() {
    const s = this.s;
    const next = this.halted() ? null : this.nextAction();
    if (this.input.publishSearchAttributes !== false) {
      upsertSearchAttributes([
        { key: BillingAccountId, value: this.accountId },
        { key: BillingStateAttr, value: s.state },
        { key: BillingOverdueSince, value: s.overdueSince ? new Date(s.overdueSince) : null },
        { key: BillingNextActionAt, value: next ? new Date(next.at) : null },
      ]);
    }
    const parts = [`Account ${this.accountId} is ${s.state.replace('_', ' ')}`];
    if (s.overdueSince) parts.push(`overdue since ${s.overdueSince}`);
    parts.push(
      `${s.openInvoices.length} open invoice(s): ${s.openInvoices.map((i) => i.invoiceId).join(', ') || 'none'}`,
    );
    if (s.paused) parts.push(`PAUSED by ${s.paused.actor}: ${s.paused.reason}`);
    if (s.disputeFrozen) parts.push(`FROZEN by dispute ${s.disputeFrozen.disputeId} until an admin resumes`);
    if (s.suspensionHold)
      parts.push(
        `suspension HELD by the circuit breaker (${s.suspensionHold.recentSuspensions} suspensions in the window, threshold ${s.suspensionHold.threshold})`,
      );
    if (next) parts.push(`next: ${next.rung.replace('_', ' ')} at ${next.at}`);
    if (s.deletionReviewDueAt)
      parts.push(
        `eligible for deletion review since ${s.deletionReviewDueAt} (a person decides; nothing is deleted automatically)`,
      );
    if (this.policy.dryRun) parts.push('DRY-RUN: nothing is done to the customer');
    // The policy follows in hours and days: the input that Temporal shows holds milliseconds.
    setCurrentDetails(`${parts.join('. ')}.\n\n${policyDetails(this.policy)}`);
  }
}
