// The ladder as data: every rung, in order, with when it lands, what it enforces, what it tells
// the customer and the billing channel, and what a restore lifts. The workflow climbs it; the
// activities, the announcements and the demo read it. A rung that only sends an email (like the
// reminder) needs just its row, its template and its setting; one that enforces something new
// also needs that enforcement in climb.ts, and a new state its columns below and its gates.
// Deterministic code only (no Node built-ins, no zod): the workflow bundle imports it.
import type { EmailTemplate } from '../notifications/email-templates.js';
import type { BillingState, EnforcementPolicy, Rung } from './definitions.js';

/** Every rung the ladder can climb after the account went overdue. */
export type LadderRung = Rung | 'reminder';
export type RungName = 'overdue' | LadderRung;

/** What a rung does to the account beyond recording it. */
export type Enforcement = 'block_backups' | 'stop_servers' | 'retain' | 'flag_deletion_review';

export interface RungSpec {
  rung: RungName;
  /** The state the account is in when the rung lands… */
  from: BillingState;
  /** …and the state it is in afterwards (the same for a rung that only tells someone). */
  to: BillingState;
  /**
   * When the rung lands: this long after the account went overdue (shifted by grace extensions
   * and time spent halted), 'end_of_retention' for the rung that waits for retention to end,
   * or null when the policy turns the rung off.
   */
  after: (policy: EnforcementPolicy) => number | 'end_of_retention' | null;
  enforces: Enforcement | null;
  /** The customer email it sends; a rung without one does nothing the customer can see. */
  email: EmailTemplate | null;
  discord: { channel: 'billing' | 'ops'; title: string } | null;
  /** What a restore undoes of this rung's enforcement. */
  lifts: 'backups' | 'servers' | null;
  /** The history entry it writes (the status query and the demo timeline show these). */
  historyKind: string;
  /**
   * A customer may first hear of the ladder here: after a switch from dry-run to enforce, the
   * ladder re-lands for real the last such rung it has climbed, then each one after it.
   */
  warns: boolean;
}

export const LADDER: readonly RungSpec[] = [
  {
    rung: 'overdue',
    from: 'active',
    to: 'overdue',
    after: () => 0,
    enforces: null,
    email: 'payment_failed',
    discord: { channel: 'billing', title: 'Payment failed: account overdue' },
    lifts: null,
    historyKind: 'overdue',
    warns: true,
  },
  // The reminder is a rung that keeps the state `overdue`, not a state of its own: the gates,
  // the Portal's announcement and the database columns answer per state, and a second email
  // changes nothing the customer may do. Off unless the policy sets reminderAfterMs; ladders
  // started without it never take this row.
  {
    rung: 'reminder',
    from: 'overdue',
    to: 'overdue',
    after: (policy) => policy.reminderAfterMs ?? null,
    enforces: null,
    email: 'payment_reminder',
    discord: null,
    lifts: null,
    historyKind: 'reminder',
    warns: false,
  },
  {
    rung: 'final_warning',
    from: 'overdue',
    to: 'final_warning',
    after: (policy) => policy.finalWarningAfterMs,
    enforces: 'block_backups',
    email: 'final_warning',
    discord: { channel: 'billing', title: 'Final warning: backups blocked' },
    lifts: 'backups',
    historyKind: 'final_warning',
    warns: true,
  },
  {
    rung: 'suspended',
    from: 'final_warning',
    to: 'suspended',
    after: (policy) => policy.suspendAfterMs,
    enforces: 'stop_servers',
    email: 'suspended',
    discord: { channel: 'billing', title: 'Suspended: servers stopped (no data deleted)' },
    lifts: 'servers',
    historyKind: 'suspended',
    warns: false,
  },
  {
    rung: 'retained',
    from: 'suspended',
    to: 'retained',
    after: (policy) => policy.retainAfterMs,
    enforces: 'retain',
    email: 'retained',
    discord: { channel: 'billing', title: 'Retained: data kept, servers stay stopped' },
    lifts: null,
    historyKind: 'retained',
    warns: false,
  },
  {
    rung: 'deletion_review',
    from: 'retained',
    to: 'retained',
    after: () => 'end_of_retention',
    enforces: 'flag_deletion_review',
    email: null,
    discord: { channel: 'ops', title: 'Eligible for deletion review' },
    lifts: null,
    historyKind: 'deletion_review_due',
    warns: false,
  },
];

export function rungSpec(rung: RungName): RungSpec {
  const spec = LADDER.find((r) => r.rung === rung);
  if (!spec) throw new Error(`no rung ${rung}`);
  return spec;
}

/** A rung that moves the account to another state (and so writes it to the database). */
export const changesState = (spec: RungSpec): boolean => spec.from !== spec.to;

/** A rung that only tells the customer something: remembered by name once it has landed. */
export const isNotice = (spec: RungSpec): boolean => spec.enforces === null && !changesState(spec);

/**
 * The states an account may be in when it moves to `to`: the rung before it, or `to` itself
 * (an activity retried after it already applied). Restoring is allowed from anywhere.
 */
export function allowedFrom(to: BillingState): BillingState[] | 'any' {
  if (to === 'active') return 'any';
  const from = LADDER.filter((r) => r.to === to && changesState(r)).map((r) => r.from);
  return [...from, to];
}

/** The database columns a transition to `to` stamps (restoring clears every one). */
export interface StateColumns {
  overdueSince?: Date | null;
  finalWarningAt?: Date | null;
  suspendedAt?: Date | null;
  retainedAt?: Date | null;
  retainUntil?: Date | null;
  deletionReviewDueAt?: Date | null;
  restoredAt?: Date;
  backupsBlocked?: boolean;
  /** A restore ends the dispute too: from then on it is the last dispute, not a current flag. */
  disputed?: boolean;
}

export function stateColumns(to: BillingState, at: Date, retainUntil?: string): StateColumns {
  switch (to) {
    case 'overdue':
      return { overdueSince: at };
    case 'final_warning':
      return { finalWarningAt: at };
    case 'suspended':
      return { suspendedAt: at };
    case 'retained':
      return { retainedAt: at, retainUntil: retainUntil ? new Date(retainUntil) : null };
    case 'active':
      return {
        restoredAt: at,
        overdueSince: null,
        finalWarningAt: null,
        suspendedAt: null,
        retainedAt: null,
        retainUntil: null,
        deletionReviewDueAt: null,
        backupsBlocked: false,
        disputed: false,
      };
  }
}

/** What a restore lifts, in ladder order (each lift is harmless when nothing was enforced). */
export function restoreLifts(): ('backups' | 'servers')[] {
  return LADDER.flatMap((r) => (r.lifts ? [r.lifts] : []));
}

/** Where a ladder stands, as far as timing goes. */
export interface LadderPosition {
  state: BillingState;
  /** ISO time the account went overdue; null while active. */
  overdueSince: string | null;
  /** Grace extensions and time spent halted: every rung after overdue lands this much later. */
  shiftMs: number;
  retainUntil: string | null;
  deletionReviewDueAt: string | null;
  /** Notice rungs (the reminder) already sent. */
  noticesSent?: readonly LadderRung[];
  /** No rung lands before this: the minimum notice after the ladder adopted a new policy. */
  notBefore?: string | null;
  /** When the ladder switched from dry-run to enforce (absent: it never did, or braked since). */
  realFrom?: string | null;
  /** Rungs the ladder has landed since that switch, for real unless the account is exempt. */
  realRungs?: readonly RungName[];
  /** The last of them: every later rung keeps its full policy gap after it. */
  anchor?: Anchor | null;
}

export interface Anchor {
  rung: RungName;
  at: string;
  /** The shift when it landed: extensions and halts since then push later rungs back too. */
  shiftMs: number;
}

export interface Scheduled {
  rung: RungName;
  at: string;
}

/** When a rung lands, counted from the first failure (the deletion review: from retained on). */
function offset(spec: RungSpec, policy: EnforcementPolicy): number | null {
  const after = spec.after(policy);
  return after === 'end_of_retention' ? policy.retainAfterMs + policy.retentionMs : after;
}

/** The anchor's landing plus the policy's gap between its rung and this one. */
function fullGapAfter(anchor: Anchor, spec: RungSpec, position: LadderPosition, policy: EnforcementPolicy) {
  const from = offset(rungSpec(anchor.rung), policy) ?? 0;
  return Date.parse(anchor.at) + (offset(spec, policy) ?? 0) - from + position.shiftMs - anchor.shiftMs;
}

function landsAt(spec: RungSpec, position: LadderPosition, policy: EnforcementPolicy): number | null {
  const after = spec.after(policy);
  if (after === null || !position.overdueSince) return null;
  let at: number;
  if (after === 'end_of_retention') {
    if (!position.retainUntil || position.deletionReviewDueAt) return null;
    at = Date.parse(position.retainUntil);
  } else {
    at = Date.parse(position.overdueSince) + position.shiftMs + after;
  }
  const anchor = position.anchor ? fullGapAfter(position.anchor, spec, position, policy) : at;
  return Math.max(at, anchor, notBefore(position));
}

const notBefore = (position: LadderPosition) =>
  position.notBefore ? Date.parse(position.notBefore) : Number.NEGATIVE_INFINITY;

/**
 * What the ladder owes the customer for real after a switch from dry-run to enforce: the rungs
 * it climbed in dry-run from the last one a customer may first hear of (the overdue notice or the
 * final warning: never a suspension without its warning), less those landed since the switch.
 */
export function owedRungs(position: LadderPosition): RungSpec[] {
  if (!position.realFrom) return [];
  // Up to the rung that moved it to its state; the reminder lies before the final warning, so it
  // is never among the rungs from the last warning on.
  const climbed = LADDER.slice(0, LADDER.findIndex((r) => r.to === position.state) + 1);
  return climbed
    .slice(climbed.findLastIndex((r) => r.warns))
    .filter((r) => !position.realRungs?.includes(r.rung));
}

type Pending = Scheduled & { spec: RungSpec };

// Nothing is pending while active: the only rung from there is the overdue one, which the
// workflow climbs when the payment fails, never on a timer.
function pending(position: LadderPosition, policy: EnforcementPolicy): Pending[] {
  // The rungs owed come first: the first at the switch itself (the real notice for where the
  // ladder stands), each later one its full gap after the one before, as are the rungs after them.
  let anchor = position.anchor ?? null;
  const owed: Pending[] = owedRungs(position).map((spec) => {
    const at = anchor
      ? Math.max(fullGapAfter(anchor, spec, position, policy), notBefore(position))
      : Date.parse(position.realFrom!);
    anchor = { rung: spec.rung, at: new Date(at).toISOString(), shiftMs: position.shiftMs };
    return { rung: spec.rung, at: anchor.at, spec };
  });
  const view = { ...position, anchor };
  const ahead = LADDER.filter((spec) => spec.rung !== 'overdue' && spec.from === position.state)
    .filter((spec) => !(isNotice(spec) && position.noticesSent?.includes(spec.rung as LadderRung)))
    .flatMap((spec) => {
      const at = landsAt(spec, view, policy);
      return at === null ? [] : [{ rung: spec.rung, at: new Date(at).toISOString(), spec }];
    });
  return [...owed, ...ahead];
}

/**
 * The next thing that happens to the customer: the next rung that enforces something. This is
 * what the status query, the search attribute, the emails and the Portal call "next".
 */
export function nextAction(
  position: LadderPosition,
  policy: EnforcementPolicy,
): { rung: Rung; at: string } | null {
  const next = pending(position, policy).find((p) => p.spec.enforces !== null);
  return next ? { rung: next.rung as Rung, at: next.at } : null;
}

/**
 * The next rung the workflow waits for, notices included. A notice whose following rung is
 * already due (the worker was away, or the policy puts it after that rung) is skipped: a
 * reminder sent a moment before the final warning says nothing the warning does not.
 */
export function nextRung(
  position: LadderPosition,
  policy: EnforcementPolicy,
  nowMs: number,
): Scheduled | null {
  const all = pending(position, policy);
  const action = all.find((p) => p.spec.enforces !== null);
  for (const p of all) {
    if (p.spec.enforces !== null) return { rung: p.rung, at: p.at };
    if (action && (Date.parse(action.at) <= nowMs || Date.parse(action.at) <= Date.parse(p.at))) continue;
    return { rung: p.rung, at: p.at };
  }
  return null;
}

/**
 * The next date as the database alone knows it (rung times, no extensions or pauses): never
 * later than the ladder's own answer, so the Portal falls back to it when the ladder is slow.
 */
export function nextDateFromAccount(
  account: { state: BillingState; overdueSince: Date | null; retainUntil: Date | null },
  policy: EnforcementPolicy,
): Date | null {
  const next = nextAction(
    {
      state: account.state,
      overdueSince: account.overdueSince?.toISOString() ?? null,
      shiftMs: 0,
      retainUntil: account.retainUntil?.toISOString() ?? null,
      deletionReviewDueAt: null,
    },
    policy,
  );
  return next ? new Date(next.at) : null;
}

/** A ladder's timing fields a new policy resets. */
export type Adoption = Pick<
  LadderPosition,
  'notBefore' | 'realFrom' | 'realRungs' | 'anchor' | 'noticesSent'
>;

/**
 * What adopting `next` in place of `current` at `nowMs` changes in the ladder's timing. Every
 * deadline is read from the policy, so recomputing them needs only the floor: no rung lands
 * sooner than the minimum notice. From dry-run to enforce, what the ladder climbed becomes owed
 * for real (owedRungs) and nothing sent in dry-run counts as sent; back to dry-run, nothing is.
 */
export function adoption(
  current: EnforcementPolicy,
  next: EnforcementPolicy,
  nowMs: number,
  minNoticeMs: number,
): Adoption {
  const notBefore = new Date(nowMs + minNoticeMs).toISOString();
  if (current.dryRun === next.dryRun) return { notBefore };
  if (next.dryRun) return { notBefore, realFrom: null, realRungs: [], anchor: null };
  return { notBefore, realFrom: new Date(nowMs).toISOString(), realRungs: [], anchor: null, noticesSent: [] };
}

/** Whether a ladder on `current` already runs `next`: the same version in the same mode. */
export const isCurrent = (current: EnforcementPolicy, next: EnforcementPolicy): boolean =>
  current.version === next.version && current.dryRun === next.dryRun;
