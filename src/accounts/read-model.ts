// One read model of an account, from the database: its state, the invoices it owes and which of
// them drive the ladder, what it owes, its flags, the policy and mode of its ladder, the dispute,
// the subscription, the deletion review and the last restore. The CLI (`billing status`), the
// admin API, the billing API and the announcements all read it here; the workflow's status query
// applies the same rules (src/workflows/account-rules.ts) to what the ladder knows. What a restore
// ended is history (`last…`), never a current flag.
import { z } from 'zod';
import { type Db } from '../platform/database.js';
import { BILLING_STATES, type BillingState } from '../workflows/definitions.js';
import {
  amountsDue,
  currentOrLast,
  drivesLadder,
  modeOf,
  RESTORE_REASONS,
  UNPAID_STATUSES,
  type Amount,
  type ApprovalRecord,
  type DeletionReviewRecord,
  type DisputeRecord,
  type Mode,
  type RestoreReason,
  type RestoreRecord,
} from '../workflows/account-rules.js';

/** What of the service's own policy the read model needs (a ladder keeps its own). */
export interface ServicePolicy {
  minAmountDueCents: number;
  dryRun: boolean;
}

const iso = z.string().describe('ISO 8601 time');
const amountSchema = z
  .object({ currency: z.string().describe('lower-case ISO code'), amount: z.number().int() })
  .meta({ id: 'Amount' });
const disputeSchema = z
  .object({ disputeId: z.string().nullable(), at: iso.nullable() })
  .meta({ id: 'DisputeRecord' });
const approvalSchema = z.object({ actor: z.string(), reason: z.string(), at: iso });
const deletionReviewSchema = z
  .object({ dueAt: iso, approval: approvalSchema.nullable() })
  .meta({ id: 'DeletionReviewRecord' });
const restoreSchema = z
  .object({
    at: iso,
    reason: z.enum(RESTORE_REASONS).describe('settled: recorded before the reason was'),
    actor: z.string().nullable().describe('who forced it (force_restore)'),
    note: z.string().nullable().describe("the admin's reason (force_restore)"),
  })
  .meta({ id: 'RestoreRecord' });

export const unpaidInvoiceSchema = z
  .object({
    id: z.string(),
    status: z.enum(UNPAID_STATUSES),
    amountDue: z.number().int(),
    currency: z.string(),
    hostedInvoiceUrl: z.string().nullable(),
    drivesLadder: z
      .boolean()
      .describe(
        'unpaid (open or uncollectible) and at least the minimum amount; below it: shown, not enforced',
      ),
  })
  .meta({ id: 'UnpaidInvoice' });

export const accountViewSchema = z
  .object({
    accountId: z.string(),
    state: z.enum(BILLING_STATES),
    mode: z
      .enum(['dry-run', 'enforce'])
      .describe("the mode of the account's ladder while it is in enforcement, else the service's"),
    policyVersion: z
      .string()
      .nullable()
      .describe("the policy of the account's ladder (the last one once restored)"),
    enforcedState: z
      .enum(BILLING_STATES)
      .nullable()
      .describe(
        'the rung enforced for real while the ladder stands past it (after a switch from dry-run to enforce until its owed rungs land, or after the brake); the gates decide on it',
      ),
    workflowId: z.string().nullable().describe("the account's ladder, once it had one"),
    overdueSince: iso.nullable(),
    finalWarningAt: iso.nullable(),
    suspendedAt: iso.nullable(),
    retainedAt: iso.nullable(),
    retainUntil: iso.nullable(),
    flags: z.object({
      backupsBlocked: z.boolean(),
      enforcementExempt: z.boolean(),
      disputed: z.boolean().describe('a dispute is open now (a restore ends it)'),
    }),
    subscriptionStatus: z.string().nullable(),
    invoices: z.array(unpaidInvoiceSchema).describe('every unpaid invoice, oldest first'),
    amountDue: z.array(amountSchema).describe('what every unpaid invoice adds up to, per currency'),
    ladderAmountDue: z.array(amountSchema).describe('what the invoices that drive the ladder add up to'),
    dispute: disputeSchema.nullable().describe('the dispute open now'),
    lastDispute: disputeSchema.nullable().describe('the dispute a restore ended'),
    deletionReview: deletionReviewSchema.nullable().describe('the deletion review due now'),
    lastDeletionReview: deletionReviewSchema.nullable().describe('the deletion review a restore ended'),
    lastRestore: restoreSchema.nullable(),
  })
  .meta({ id: 'AccountView' });

export type AccountView = z.infer<typeof accountViewSchema>;
export type UnpaidInvoice = z.infer<typeof unpaidInvoiceSchema>;
export type { Amount, DeletionReviewRecord, DisputeRecord, Mode, RestoreRecord };

/** The rows the view is made of (what readAccount loads), so the rules can be tested without a database. */
export interface AccountRows {
  account: {
    id: string;
    state: BillingState;
    overdueSince: Date | null;
    finalWarningAt: Date | null;
    suspendedAt: Date | null;
    retainedAt: Date | null;
    retainUntil: Date | null;
    deletionReviewDueAt: Date | null;
    restoredAt: Date | null;
    restoreReason: string | null;
    restoredBy: string | null;
    restoreNote: string | null;
    backupsBlocked: boolean;
    enforcementExempt: boolean;
    disputed: boolean;
    subscriptionStatus: string | null;
    policyVersion: string | null;
    policyDryRun: boolean | null;
    enforcedState: BillingState | null;
    workflowId: string | null;
  };
  /** Unpaid invoices, oldest first. */
  invoices: {
    id: string;
    status: string;
    amountDue: number;
    currency: string;
    hostedInvoiceUrl: string | null;
  }[];
  /** The latest dispute applied to the account (the event log), if any. */
  lastDisputeEvent: { objectId: string | null; createdAt: Date } | null;
  /** The latest deletion-review audit rows (due and approvals), newest first. */
  reviewEvents: { kind: string; actor: string; reason: string | null; occurredAt: Date; detail: unknown }[];
}

const isoOf = (d: Date | null) => (d ? d.toISOString() : null);

export const REVIEW_DUE = 'deletion_review_due';
export const REVIEW_APPROVED = 'admin_approve_deletion_review';

/** The approval given since the review came due (the newest first in `events`). */
function approvalSince(events: AccountRows['reviewEvents'], dueAt: Date): ApprovalRecord | null {
  const approval = events.find((e) => e.kind === REVIEW_APPROVED && e.occurredAt >= dueAt);
  return approval
    ? { actor: approval.actor, reason: approval.reason ?? '', at: approval.occurredAt.toISOString() }
    : null;
}

function deletionReviewOf(rows: AccountRows): DeletionReviewRecord | null {
  const dueAt = rows.account.deletionReviewDueAt;
  if (dueAt) return { dueAt: dueAt.toISOString(), approval: approvalSince(rows.reviewEvents, dueAt) };
  const due = rows.reviewEvents.find((e) => e.kind === REVIEW_DUE);
  return due
    ? { dueAt: due.occurredAt.toISOString(), approval: approvalSince(rows.reviewEvents, due.occurredAt) }
    : null;
}

const restoreReasonOf = (reason: string | null): RestoreReason =>
  (RESTORE_REASONS as readonly string[]).includes(reason ?? '') ? (reason as RestoreReason) : 'settled';

/** The view from its rows: pure, the rules of account-rules.ts applied to the database's facts. */
export function accountView(rows: AccountRows, service: ServicePolicy): AccountView {
  const { account } = rows;
  const inEnforcement = account.state !== 'active';
  const invoices = rows.invoices
    .filter((i) => (UNPAID_STATUSES as readonly string[]).includes(i.status))
    .map((i) => ({
      id: i.id,
      status: i.status as UnpaidInvoice['status'],
      amountDue: i.amountDue,
      currency: i.currency,
      hostedInvoiceUrl: i.hostedInvoiceUrl,
      drivesLadder: drivesLadder(i, service.minAmountDueCents),
    }));
  const event = rows.lastDisputeEvent;
  const dispute: DisputeRecord | null = event
    ? { disputeId: event.objectId, at: event.createdAt.toISOString() }
    : account.disputed
      ? { disputeId: null, at: null }
      : null;
  // The flag says whether it is open: a restore clears it and leaves the event as history.
  const disputes = currentOrLast(dispute, !account.disputed);
  const review = deletionReviewOf(rows);
  const reviews = currentOrLast(review, account.deletionReviewDueAt === null);
  return {
    accountId: account.id,
    state: account.state,
    mode:
      inEnforcement && account.policyDryRun !== null ? modeOf(account.policyDryRun) : modeOf(service.dryRun),
    policyVersion: account.policyVersion,
    enforcedState: account.enforcedState,
    workflowId: account.workflowId,
    overdueSince: isoOf(account.overdueSince),
    finalWarningAt: isoOf(account.finalWarningAt),
    suspendedAt: isoOf(account.suspendedAt),
    retainedAt: isoOf(account.retainedAt),
    retainUntil: isoOf(account.retainUntil),
    flags: {
      backupsBlocked: account.backupsBlocked,
      enforcementExempt: account.enforcementExempt,
      disputed: account.disputed,
    },
    subscriptionStatus: account.subscriptionStatus,
    invoices,
    amountDue: amountsDue(invoices),
    ladderAmountDue: amountsDue(invoices.filter((i) => i.drivesLadder)),
    dispute: disputes.current,
    lastDispute: disputes.last,
    deletionReview: reviews.current,
    lastDeletionReview: reviews.last,
    lastRestore: account.restoredAt
      ? {
          at: account.restoredAt.toISOString(),
          reason: restoreReasonOf(account.restoreReason),
          actor: account.restoredBy,
          note: account.restoreNote,
        }
      : null,
  };
}

/** Loads an account's rows (a Prisma client or a transaction); null for an unknown account. */
export async function readAccountRows(db: Db, accountId: string): Promise<AccountRows | null> {
  const account = await db.billingAccount.findUnique({
    where: { id: accountId },
    include: {
      invoices: {
        where: { status: { in: [...UNPAID_STATUSES] } },
        orderBy: [{ lastEventCreatedAt: 'asc' }, { id: 'asc' }],
        select: { id: true, status: true, amountDue: true, currency: true, hostedInvoiceUrl: true },
      },
    },
  });
  if (!account) return null;
  const [lastDisputeEvent, reviewEvents] = await Promise.all([
    db.stripeEventLog.findFirst({
      where: { accountId, type: 'charge.dispute.created', status: 'processed' },
      orderBy: [{ receivedAt: 'desc' }, { id: 'desc' }],
      select: { objectId: true, createdAt: true },
    }),
    db.billingEnforcementEvent.findMany({
      where: { accountId, kind: { in: [REVIEW_DUE, REVIEW_APPROVED] } },
      orderBy: [{ occurredAt: 'desc' }, { id: 'asc' }],
      take: 20,
      select: { kind: true, actor: true, reason: true, occurredAt: true, detail: true },
    }),
  ]);
  const { invoices, ...row } = account;
  return { account: row, invoices, lastDisputeEvent, reviewEvents };
}

/** The account's read model; null for an unknown account. */
export async function readAccount(
  db: Db,
  accountId: string,
  service: ServicePolicy,
): Promise<AccountView | null> {
  const rows = await readAccountRows(db, accountId);
  return rows ? accountView(rows, service) : null;
}
