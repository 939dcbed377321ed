// What a change of a Stripe invoice means for the account's ladder, with Stripe's delivery
// order taken out of the picture: the Invoice row keeps the latest status applied and the
// `created` time of that event, so an older event never overrides a newer one, and a settled
// invoice (paid and void are final in Stripe) never starts a ladder again. Shared by the
// webhook and the reconciliation, which both call it under the account's lock.
import type Stripe from 'stripe';
import { type RawDb } from '../platform/database.js';
import { type LadderClient } from '../ladder/client.js';
import { readInvoice, saveInvoice, type InvoiceFacts } from './sql/invoice.js';
import { openDispute } from './sql/billing-account.js';

export { type InvoiceFacts };

export const SETTLED_STATUSES = ['paid', 'void'] as const;

export interface EffectResult {
  status: 'processed' | 'ignored' | 'stale';
  outcome: string;
}

export interface InvoiceEffectDeps {
  ladder: LadderClient;
  minAmountDueCents: number;
  /** With a Stripe API key: the invoice as Stripe sees it now, checked before a ladder starts. */
  stripe?: Stripe;
}

export function invoiceFacts(invoice: Stripe.Invoice): InvoiceFacts {
  return {
    id: invoice.id,
    status: invoice.status ?? 'open',
    amountRemaining: invoice.amount_remaining,
    currency: invoice.currency,
    hostedInvoiceUrl: invoice.hosted_invoice_url ?? null,
  };
}

export function customerIdOf(customer: string | { id: string } | null | undefined): string | null {
  if (!customer) return null;
  return typeof customer === 'string' ? customer : customer.id;
}

const isSettled = (status: string) => (SETTLED_STATUSES as readonly string[]).includes(status);

/** `invoice.payment_failed` (or a past-due invoice found by reconciliation). */
export async function applyPaymentFailed(
  tx: RawDb,
  deps: InvoiceEffectDeps,
  input: { accountId: string; invoice: InvoiceFacts; eventId: string; eventCreated: Date },
): Promise<EffectResult> {
  const { accountId, eventId, eventCreated } = input;
  let facts = input.invoice;
  const row = await readInvoice(tx, facts.id);
  if (row && isSettled(row.status)) {
    return { status: 'stale', outcome: `invoice already ${row.status}: no ladder` };
  }
  if (row && eventCreated < row.lastEventCreatedAt) {
    return { status: 'stale', outcome: 'older than the last event applied to this invoice' };
  }
  if (deps.stripe) {
    // Stripe does not order deliveries: ask it where the invoice stands before acting on it.
    const current = await deps.stripe.invoices.retrieve(facts.id);
    facts = invoiceFacts(current);
    if (isSettled(facts.status)) {
      await saveInvoice(tx, accountId, facts, facts.status, eventId, eventCreated);
      return { status: 'stale', outcome: `Stripe reports the invoice ${facts.status}: no ladder` };
    }
  }
  await saveInvoice(
    tx,
    accountId,
    facts,
    facts.status === 'uncollectible' ? 'uncollectible' : 'open',
    eventId,
    eventCreated,
  );
  if (facts.amountRemaining < deps.minAmountDueCents) {
    return {
      status: 'ignored',
      outcome: `amount due ${facts.amountRemaining} is below the policy minimum ${deps.minAmountDueCents}: no ladder`,
    };
  }
  await deps.ladder.paymentFailed(accountId, {
    invoiceId: facts.id,
    eventId,
    at: eventCreated.toISOString(),
    amountDue: facts.amountRemaining,
    currency: facts.currency,
  });
  // A dispute that came while no ladder ran only flagged the account: it holds the ladder this
  // failure starts, as it would have held a running one.
  const dispute = await openDispute(tx, accountId);
  if (dispute) {
    await deps.ladder.disputeOpened(accountId, {
      disputeId: dispute.disputeId ?? '(not on record)',
      eventId: dispute.eventId ?? eventId,
      at: (dispute.at ?? eventCreated).toISOString(),
    });
    return { status: 'processed', outcome: 'ladder started or told; frozen by the open dispute' };
  }
  return { status: 'processed', outcome: 'ladder started or told' };
}

/** `invoice.paid`, `invoice.payment_succeeded`, `invoice.voided` (or reconciliation). */
export async function applySettled(
  tx: RawDb,
  deps: Pick<InvoiceEffectDeps, 'ladder'>,
  input: {
    accountId: string;
    invoice: InvoiceFacts;
    how: 'paid' | 'voided';
    eventId: string;
    eventCreated: Date;
  },
): Promise<EffectResult> {
  const { accountId, invoice, how, eventId, eventCreated } = input;
  const row = await readInvoice(tx, invoice.id);
  const status = how === 'paid' ? 'paid' : 'void';
  // Paid and void are final in Stripe, so a settlement applies whatever its place in the order;
  // only the event time moves forward.
  const latest = row
    ? new Date(Math.max(row.lastEventCreatedAt.getTime(), eventCreated.getTime()))
    : eventCreated;
  await saveInvoice(
    tx,
    accountId,
    { ...invoice, amountRemaining: how === 'paid' ? 0 : invoice.amountRemaining },
    status,
    eventId,
    latest,
  );
  const told = await deps.ladder.invoiceSettled(accountId, {
    invoiceId: invoice.id,
    how,
    eventId,
    at: eventCreated.toISOString(),
  });
  return {
    status: 'processed',
    outcome: told ? `invoice ${status}: ladder told` : `invoice ${status}: no running ladder`,
  };
}

/** `invoice.marked_uncollectible`: written off in Stripe, still unpaid — recorded, no restore. */
export async function applyUncollectible(
  tx: RawDb,
  input: { accountId: string; invoice: InvoiceFacts; eventId: string; eventCreated: Date },
): Promise<EffectResult> {
  const row = await readInvoice(tx, input.invoice.id);
  if (row && (isSettled(row.status) || input.eventCreated < row.lastEventCreatedAt)) {
    return { status: 'stale', outcome: `not applied over the newer status ${row.status}` };
  }
  await saveInvoice(tx, input.accountId, input.invoice, 'uncollectible', input.eventId, input.eventCreated);
  return { status: 'processed', outcome: 'invoice marked uncollectible (recorded; the ladder goes on)' };
}
