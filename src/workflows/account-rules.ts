// The rules every surface applies when it describes an account: which invoices are unpaid and
// which of them drive the ladder, what is owed, why a restore happened, and what is over (history)
// against what holds now (state). The read model (src/accounts/read-model.ts) applies them to the
// database's rows and the workflow's status query to its own state, so the CLI, the admin API,
// the billing API, the announcements and the ladder cannot tell different stories.
// Deterministic code only: the workflow bundle imports it.

/** Stripe statuses of an invoice still owed: `uncollectible` is written off in Stripe, not paid. */
export const UNPAID_STATUSES = ['open', 'uncollectible'] as const;

export const isUnpaid = (status: string): boolean => (UNPAID_STATUSES as readonly string[]).includes(status);

/**
 * An unpaid invoice drives the ladder unless it is below the policy's minimum amount (such an
 * invoice is shown, never enforced: the webhook starts no ladder for it).
 */
export function drivesLadder(
  invoice: { status: string; amountDue: number },
  minAmountDueCents: number,
): boolean {
  return isUnpaid(invoice.status) && invoice.amountDue >= minAmountDueCents;
}

export interface Amount {
  /** Lower-case ISO code, as Stripe writes it. */
  currency: string;
  /** In the currency's smallest unit (cents). */
  amount: number;
}

/** One sum per currency, currencies in alphabetical order. */
export function amountsDue(invoices: readonly { amountDue?: number; currency?: string }[]): Amount[] {
  const totals = new Map<string, number>();
  for (const invoice of invoices) {
    if (invoice.amountDue === undefined || invoice.currency === undefined) continue;
    const currency = invoice.currency.toLowerCase();
    totals.set(currency, (totals.get(currency) ?? 0) + invoice.amountDue);
  }
  return [...totals.keys()].sort().map((currency) => ({ currency, amount: totals.get(currency) ?? 0 }));
}

export type Mode = 'dry-run' | 'enforce';
export const modeOf = (dryRun: boolean): Mode => (dryRun ? 'dry-run' : 'enforce');

/**
 * Why an account was restored: every invoice that drove the ladder was paid (or some paid, the
 * rest voided), every one was voided, or an admin forced it. `settled` is a restore recorded
 * before the reason was (how the invoices were settled is not known).
 */
export const RESTORE_REASONS = ['paid', 'voided', 'force_restore', 'settled'] as const;
export type RestoreReason = (typeof RESTORE_REASONS)[number];

export function restoreReason(forced: boolean, settlements: readonly ('paid' | 'voided')[]): RestoreReason {
  if (forced) return 'force_restore';
  if (settlements.includes('paid')) return 'paid';
  return settlements.length > 0 ? 'voided' : 'settled';
}

export interface RestoreRecord {
  at: string;
  reason: RestoreReason;
  /** Who forced it (force_restore only). */
  actor: string | null;
  /** The admin's reason for a forced restore. */
  note: string | null;
}

/** "paid", "voided", "force restore by frank: goodwill" — one wording for every surface. */
export function describeRestore(restore: Pick<RestoreRecord, 'reason' | 'actor' | 'note'>): string {
  switch (restore.reason) {
    case 'paid':
      return 'paid';
    case 'voided':
      return 'invoices voided';
    case 'settled':
      return 'invoices settled';
    case 'force_restore':
      return `force restore by ${restore.actor ?? 'an admin'}${restore.note ? `: ${restore.note}` : ''}`;
  }
}

export interface DisputeRecord {
  /** Null only when the account is flagged disputed without the dispute's event on record. */
  disputeId: string | null;
  /** When Stripe opened it (the event's `created`). */
  at: string | null;
}

export interface ApprovalRecord {
  actor: string;
  reason: string;
  at: string;
}

export interface DeletionReviewRecord {
  dueAt: string;
  approval: ApprovalRecord | null;
}

/**
 * A restore ends the ladder: what it was doing is history from then on. A dispute or a
 * deletion review seen before the restore is "last …", never a current flag.
 */
export function currentOrLast<T>(record: T | null, over: boolean): { current: T | null; last: T | null } {
  return over ? { current: null, last: record } : { current: record, last: null };
}
