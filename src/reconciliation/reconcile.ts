// Reconciliation: Stripe is the source of truth for invoices, webhooks are only its messenger.
// Open, already-attempted invoices in Stripe without a running ladder get one; invoices we hold
// open that Stripe reports paid or void are settled. A missed webhook heals itself, and a run
// over a consistent state changes nothing (every effect goes through the webhook's own rules).
import type Stripe from 'stripe';
import { type PrismaClient } from '../platform/database.js';
import {
  applyPaymentFailed,
  applySettled,
  customerIdOf,
  invoiceFacts,
  SETTLED_STATUSES,
} from '../webhook/invoice-effects.js';
import { lockStripeAccount } from '../webhook/sql/billing-account.js';
import { type AlertOps } from '../notifications/ops-alerts.js';
import { type Logger } from '../platform/logger.js';
import { type LadderClient } from '../ladder/client.js';

export interface ReconcileDeps {
  db: PrismaClient;
  ladder: LadderClient;
  stripe: Stripe;
  minAmountDueCents: number;
  alertOps: AlertOps;
  logger: Logger;
  /** Progress for long runs (heartbeats in the activity). */
  progress?: (done: number) => void;
}

export interface ReconcileReport {
  at: string;
  openInStripe: number;
  trackedOpen: number;
  started: { accountId: string; invoiceId: string }[];
  settled: { accountId: string; invoiceId: string; status: string }[];
  orphans: { invoiceId: string; customerId: string | null }[];
  belowMinimum: number;
  unknownToStripe: number;
}

function isMissing(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'resource_missing'
  );
}

export async function reconcileWithStripe(deps: ReconcileDeps, runKey: string): Promise<ReconcileReport> {
  const { db, ladder, stripe } = deps;
  const now = new Date();
  const report: ReconcileReport = {
    at: now.toISOString(),
    openInStripe: 0,
    trackedOpen: 0,
    started: [],
    settled: [],
    orphans: [],
    belowMinimum: 0,
    unknownToStripe: 0,
  };
  let done = 0;

  // 1. Past due in Stripe: open and a payment attempt has failed (or the due date passed).
  for await (const invoice of stripe.invoices.list({ status: 'open', limit: 100 })) {
    report.openInStripe++;
    deps.progress?.(++done);
    const pastDue =
      (invoice.attempted && invoice.attempt_count > 0) ||
      (invoice.due_date !== null && invoice.due_date * 1000 < now.getTime());
    if (!pastDue) continue;
    const customerId = customerIdOf(invoice.customer);
    const account = customerId
      ? await db.billingAccount.findUnique({ where: { stripeCustomerId: customerId }, select: { id: true } })
      : null;
    if (!account) {
      report.orphans.push({ invoiceId: invoice.id, customerId });
      continue;
    }
    const accountId = account.id;
    const result = await db.$transaction(
      async (tx) => {
        await lockStripeAccount(tx, accountId);
        const row = await tx.invoice.findUnique({ where: { id: invoice.id } });
        if (row && row.status === 'open' && (await ladder.isRunning(accountId))) return 'tracked' as const;
        return applyPaymentFailed(
          tx,
          { ladder, minAmountDueCents: deps.minAmountDueCents },
          {
            accountId,
            invoice: invoiceFacts(invoice),
            // One id per Stripe attempt: a second run (or a later webhook) repeats nothing.
            eventId: `reconcile:${invoice.id}:${invoice.attempt_count}`,
            eventCreated: now,
          },
        );
      },
      { maxWait: 10_000, timeout: 30_000 },
    );
    if (result === 'tracked') continue;
    if (result.status === 'processed') report.started.push({ accountId, invoiceId: invoice.id });
    else if (result.status === 'ignored') report.belowMinimum++;
  }

  // 2. What we hold open, as Stripe sees it now: paid or void there settles it here.
  const tracked = await db.invoice.findMany({
    where: { status: { in: ['open', 'uncollectible'] }, accountId: { not: null } },
    select: { id: true, accountId: true },
  });
  report.trackedOpen = tracked.length;
  for (const row of tracked) {
    deps.progress?.(++done);
    let current: Stripe.Invoice;
    try {
      current = await stripe.invoices.retrieve(row.id);
    } catch (error) {
      if (isMissing(error)) {
        report.unknownToStripe++;
        continue;
      }
      throw error;
    }
    const status = current.status ?? 'open';
    if (!(SETTLED_STATUSES as readonly string[]).includes(status)) continue;
    const accountId = row.accountId!;
    await db.$transaction(
      async (tx) => {
        await lockStripeAccount(tx, accountId);
        await applySettled(
          tx,
          { ladder },
          {
            accountId,
            invoice: invoiceFacts(current),
            how: status === 'paid' ? 'paid' : 'voided',
            eventId: `reconcile:${row.id}:${status}`,
            eventCreated: now,
          },
        );
      },
      { maxWait: 10_000, timeout: 30_000 },
    );
    report.settled.push({ accountId, invoiceId: row.id, status });
  }

  const drift = report.started.length + report.settled.length;
  deps.logger.info(
    {
      openInStripe: report.openInStripe,
      trackedOpen: report.trackedOpen,
      started: report.started.length,
      settled: report.settled.length,
      orphans: report.orphans.length,
    },
    'reconciliation finished',
  );
  if (drift > 0) {
    await deps.alertOps({
      accountId: null,
      key: `reconcile:${runKey}`,
      title: 'Reconciliation healed missed Stripe events',
      detail:
        `Started ${report.started.length} ladder(s): ${report.started.map((s) => s.accountId).join(', ') || '-'}. ` +
        `Settled ${report.settled.length} invoice(s): ${report.settled.map((s) => s.invoiceId).join(', ') || '-'}. ` +
        `Unknown customers: ${report.orphans.length}.`,
    });
  }
  return report;
}
