// Everything the workflow and its clients (webhook, admin API, CLI, tests) share: names,
// message definitions, input/output types. Deterministic code only: importable by the workflow.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { type AdminInput, type ExtendGraceInput } from './admin-input.js';
import type { Anchor, LadderRung, RungName } from './ladder.js';
import type { Amount, DeletionReviewRecord, DisputeRecord, Mode, RestoreReason } from './account-rules.js';

export const TASK_QUEUE = 'billing-enforcement';
export const WORKFLOW_ID_PREFIX = 'billing-enforcement:';

/** Account and Stripe ids only: workflow ids are visible everywhere, so never an email. */
export function workflowIdFor(accountId: string): string {
  return `${WORKFLOW_ID_PREFIX}${accountId}`;
}

export const BILLING_STATES = ['active', 'overdue', 'final_warning', 'suspended', 'retained'] as const;
export type BillingState = (typeof BILLING_STATES)[number];

/** The rungs after the first that enforce something: what happens to the customer next. */
export type Rung = 'final_warning' | 'suspended' | 'retained' | 'deletion_review';

export interface EnforcementPolicy {
  version: string;
  /** A reminder email this long after the account went overdue; absent: no reminder. */
  reminderAfterMs?: number;
  finalWarningAfterMs: number;
  suspendAfterMs: number;
  retainAfterMs: number;
  /** How long a retained account is kept before it is due for a (human) deletion review. */
  retentionMs: number;
  restartServersOnRestore: boolean;
  /** ENFORCEMENT_MODE=dry-run: record and alert, never touch the customer. */
  dryRun: boolean;
  minAmountDueCents: number;
  suspensionBreaker: { threshold: number; windowMs: number };
  shutdownTimeoutMs: number;
}

// ---------------------------------------------------------------------------------------------
// Search attributes (registered by `npm run dev` / the deploy step; see src/platform/temporal/search-attributes.ts)

export const BillingAccountId = defineSearchAttributeKey('BillingAccountId', SearchAttributeType.KEYWORD);
export const BillingStateAttr = defineSearchAttributeKey('BillingState', SearchAttributeType.KEYWORD);
export const BillingOverdueSince = defineSearchAttributeKey(
  'BillingOverdueSince',
  SearchAttributeType.DATETIME,
);
export const BillingNextActionAt = defineSearchAttributeKey(
  'BillingNextActionAt',
  SearchAttributeType.DATETIME,
);
export const SEARCH_ATTRIBUTES = [
  BillingAccountId,
  BillingStateAttr,
  BillingOverdueSince,
  BillingNextActionAt,
];

// ---------------------------------------------------------------------------------------------
// Signals

export interface PaymentFailed {
  invoiceId: string;
  eventId: string;
  /** ISO time of the Stripe event. */
  at: string;
  amountDue?: number;
  currency?: string;
}

export interface InvoiceSettled {
  invoiceId: string;
  how: 'paid' | 'voided';
  eventId: string;
  at: string;
}

export interface DisputeOpened {
  disputeId: string;
  eventId: string;
  at: string;
}

export const paymentFailedSignal = defineSignal<[PaymentFailed]>('paymentFailed');
export const invoiceSettledSignal = defineSignal<[InvoiceSettled]>('invoiceSettled');
export const disputeOpenedSignal = defineSignal<[DisputeOpened]>('disputeOpened');

// ---------------------------------------------------------------------------------------------
// Updates: every admin operation names who did it and why, and is audited by the workflow.

export type { AdminInput, ExtendGraceInput };

export const pauseUpdate = defineUpdate<EnforcementStatus, [AdminInput]>('pause');
export const resumeUpdate = defineUpdate<EnforcementStatus, [AdminInput]>('resume');
export const extendGraceUpdate = defineUpdate<EnforcementStatus, [ExtendGraceInput]>('extendGrace');
export const forceRestoreUpdate = defineUpdate<EnforcementStatus, [AdminInput]>('forceRestore');
export const releaseSuspensionHoldUpdate = defineUpdate<EnforcementStatus, [AdminInput]>(
  'releaseSuspensionHold',
);
export const approveDeletionReviewUpdate = defineUpdate<EnforcementStatus, [AdminInput]>(
  'approveDeletionReview',
);

/**
 * Moves a running ladder onto the policy in force (`billing policy apply`): the ladder adopts its
 * version and mode under the rules of ladder.ts (`adoption`, `owedRungs`). Safe to send twice:
 * a ladder already on that version and mode answers `already_current` and changes nothing.
 */
export interface ApplyPolicyInput extends AdminInput {
  policy: EnforcementPolicy;
  /** No rung lands sooner than this after the change (default DEFAULT_MIN_NOTICE_HOURS). */
  minNoticeHours?: number;
}

/** The next thing that happens to the customer under one policy, and the policy's name. */
export interface PolicyStanding {
  version: string;
  dryRun: boolean;
  nextAction: { rung: Rung; at: string } | null;
  /** The next rung the ladder waits for, the overdue notice and the reminder included. */
  nextRung: { rung: RungName; at: string } | null;
}

export interface PolicyChange {
  accountId: string;
  state: BillingState;
  /** Already on this version and mode: applying it changes nothing. */
  current: boolean;
  from: PolicyStanding;
  to: PolicyStanding;
}

export interface ApplyPolicyResult {
  outcome: 'applied' | 'already_current';
  change: PolicyChange;
  status: EnforcementStatus;
}

export const DEFAULT_MIN_NOTICE_HOURS = 24;

export const applyPolicyUpdate = defineUpdate<ApplyPolicyResult, [ApplyPolicyInput]>('applyPolicy');

/** What `applyPolicy` would change, computed by the ladder itself (`billing policy plan`). */
export interface PolicyPreviewInput {
  policy: EnforcementPolicy;
  minNoticeHours?: number;
  /**
   * The caller's clock: a query sees the time of the ladder's last task, which for a ladder
   * waiting on a timer is when it began to wait.
   */
  at?: string;
}
export const policyPreviewQuery = defineQuery<PolicyChange, [PolicyPreviewInput]>('policyPreview');

export const ADMIN_UPDATES = {
  pause: pauseUpdate,
  resume: resumeUpdate,
  extendGrace: extendGraceUpdate,
  forceRestore: forceRestoreUpdate,
  releaseSuspensionHold: releaseSuspensionHoldUpdate,
  approveDeletionReview: approveDeletionReviewUpdate,
} as const;
export type AdminUpdateName = keyof typeof ADMIN_UPDATES;

// ---------------------------------------------------------------------------------------------
// Query

export interface OpenInvoice {
  invoiceId: string;
  firstFailedAt: string;
  failures: number;
  amountDue?: number;
  currency?: string;
}

export interface HistoryEntry {
  at: string;
  kind: string;
  state: BillingState;
  /** What was done at this step, e.g. "email:final_warning", "backups blocked". */
  actions?: string[];
  detail?: string;
}

export interface AdminMark {
  actor: string;
  reason: string;
  at: string;
}

/**
 * The status query. The fields it shares with the account's read model (src/accounts/read-model.ts)
 * come from the same rules (account-rules.ts); what a restore ended is history (`last…`), never
 * a current flag.
 */
export interface EnforcementStatus {
  accountId: string;
  state: BillingState;
  policyVersion: string;
  dryRun: boolean;
  mode: Mode;
  overdueSince: string | null;
  /** The invoices that drive this ladder (the workflow is told only of those). */
  openInvoices: (OpenInvoice & { drivesLadder: boolean })[];
  /** What the driving invoices add up to, per currency. */
  ladderAmountDue: Amount[];
  nextAction: { rung: Rung; at: string } | null;
  paused: AdminMark | null;
  /** The ladder is frozen by this dispute until an admin resumes it; null once restored. */
  disputeFrozen: { disputeId: string; at: string } | null;
  /** The dispute open now (frozen or resumed past); null once restored. */
  dispute: (DisputeRecord & { frozen: boolean }) | null;
  /** The dispute a restore ended. */
  lastDispute: DisputeRecord | null;
  suspensionHold: { since: string; recentSuspensions: number; threshold: number } | null;
  graceExtendedHours: number;
  retainUntil: string | null;
  /** Null once restored (see lastDeletionReview). */
  deletionReviewDueAt: string | null;
  /** Null once restored (see lastDeletionReview). */
  deletionReviewApproval: AdminMark | null;
  deletionReview: DeletionReviewRecord | null;
  /** The deletion review (and its approval) a restore ended. */
  lastDeletionReview: DeletionReviewRecord | null;
  /**
   * `by`: "payment" (paid), "void" (every driving invoice voided) or the admin who forced it;
   * `reason` says the same without ambiguity.
   */
  restored: {
    at: string;
    by: string;
    reason: RestoreReason;
    actor: string | null;
    note: string | null;
  } | null;
  history: HistoryEntry[];
}

export const statusQuery = defineQuery<EnforcementStatus>('status');

// ---------------------------------------------------------------------------------------------
// Workflow input: the policy is resolved once, at start; continueAsNew carries the state.

export interface CarriedState {
  state: BillingState;
  overdueSince: string | null;
  openInvoices: OpenInvoice[];
  settledInvoiceIds: string[];
  appliedEventIds: string[];
  /** Extensions and time spent paused push every later rung back by this much. */
  shiftMs: number;
  graceExtendedHours: number;
  paused: AdminMark | null;
  /** When the ladder last stopped moving (pause or dispute freeze); resume shifts the rungs. */
  haltedSince: string | null;
  disputeFrozen: { disputeId: string; at: string } | null;
  suspensionHold: { since: string; recentSuspensions: number; threshold: number } | null;
  suspensionHoldReleased: AdminMark | null;
  retainUntil: string | null;
  deletionReviewDueAt: string | null;
  deletionReviewApproval: AdminMark | null;
  history: HistoryEntry[];
  /** Counts steps across continueAsNew, so audit keys stay unique per ladder. */
  stepSeq: number;
  /** Rungs that only notify (the reminder) already sent; absent in runs from before them. */
  noticesSent?: LadderRung[];
  // Set by applyPolicy only (ladder.ts says how they are read); absent in runs from before it.
  notBefore?: string | null;
  realFrom?: string | null;
  realRungs?: RungName[];
  anchor?: Anchor | null;
  /** How each invoice that drove this ladder was settled; absent in runs from before. */
  settlements?: ('paid' | 'voided')[];
  /** The last dispute Stripe reported to this ladder (kept after a resume); absent in older runs. */
  dispute?: DisputeRecord;
}

export interface EnforcementInput {
  accountId: string;
  /** The policy the ladder started with, or the one it adopted last (carried by continueAsNew). */
  policy: EnforcementPolicy;
  carried?: CarriedState;
  /**
   * Continue as new once history reaches this many events, in addition to the server's own
   * suggestion (tests use a small number to exercise the hand-over).
   */
  continueAsNewAfterEvents?: number;
  /**
   * Upsert the Billing* search attributes (default true). Only the time-skipping test server
   * turns this off: it has no OperatorService, so custom attributes cannot be registered there.
   */
  publishSearchAttributes?: boolean;
  /**
   * Task queues for the notification activities, each served by workers that take no more tasks
   * per second than the provider allows (src/platform/temporal/worker-factory.ts). A herd's notifications then
   * wait in Temporal, costing no attempt, instead of failing against a full rate limiter.
   * Absent (ladders started before these queues, and tests): everything on the ladder's queue.
   */
  notificationTaskQueues?: NotificationTaskQueues;
}

export interface NotificationTaskQueues {
  email: string;
  discordBilling: string;
  discordOps: string;
}

/** The notification queues that belong to a ladder task queue. */
export function notificationTaskQueuesFor(taskQueue: string): NotificationTaskQueues {
  return {
    email: `${taskQueue}-email`,
    discordBilling: `${taskQueue}-discord-billing`,
    discordOps: `${taskQueue}-discord-ops`,
  };
}

export interface EnforcementResult {
  accountId: string;
  outcome: 'restored' | 'nothing_overdue';
  finalState: BillingState;
  restoredBy: string | null;
}

/** Permanent activity failures (named error classes thrown by the activities). */
export const NON_RETRYABLE_ERROR_TYPES = ['AccountNotFoundError'];

/** Notifications fail soft: after this many attempts they are recorded failed and alerted. */
export const NOTIFICATION_MAX_ATTEMPTS = 5;
/** Enforcement actions retry forever; from this attempt on, ops hears about it (once). */
export const ENFORCEMENT_ALERT_AFTER_ATTEMPTS = 5;

/** The most applied Stripe event ids a run remembers (the webhook's event log is the real guard). */
export const MAX_REMEMBERED_EVENT_IDS = 500;
/** The most history entries kept in the status query. */
export const MAX_HISTORY = 100;
