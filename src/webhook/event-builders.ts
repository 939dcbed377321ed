// Stripe-shaped events, as Stripe's API sends them (object shapes of the pinned API version),
// signed like Stripe signs them. Used by `billing simulate` (our `stripe trigger`), the tests
// and the benchmarks — never by the service itself.
import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';

const API_VERSION = '2026-10-28.endive';

const rand = (n = 14) => randomBytes(n).toString('base64url').replace(/[-_]/g, 'x').slice(0, n);
export const newId = (prefix: string) => `${prefix}_${rand(24)}`;

export type SimulatedKind =
  | 'payment-failed'
  | 'paid'
  | 'payment-succeeded'
  | 'voided'
  | 'uncollectible'
  | 'dispute'
  | 'subscription-updated'
  | 'subscription-deleted';

export const SIMULATED_KINDS: readonly SimulatedKind[] = [
  'payment-failed',
  'paid',
  'payment-succeeded',
  'voided',
  'uncollectible',
  'dispute',
  'subscription-updated',
  'subscription-deleted',
];

const EVENT_TYPES: Record<SimulatedKind, string> = {
  'payment-failed': 'invoice.payment_failed',
  paid: 'invoice.paid',
  'payment-succeeded': 'invoice.payment_succeeded',
  voided: 'invoice.voided',
  uncollectible: 'invoice.marked_uncollectible',
  dispute: 'charge.dispute.created',
  'subscription-updated': 'customer.subscription.updated',
  'subscription-deleted': 'customer.subscription.deleted',
};

export interface InvoiceShape {
  id?: string;
  customer: string;
  amountDue?: number;
  currency?: string;
  status?: 'draft' | 'open' | 'paid' | 'uncollectible' | 'void';
  attemptCount?: number;
  created?: number;
}

export function buildInvoice(shape: InvoiceShape): Record<string, unknown> {
  const id = shape.id ?? newId('in');
  const created = shape.created ?? Math.floor(Date.now() / 1000) - 3600;
  const amountDue = shape.amountDue ?? 2500;
  const status = shape.status ?? 'open';
  const paid = status === 'paid';
  const attemptCount = shape.attemptCount ?? 1;
  return {
    id,
    object: 'invoice',
    account_country: 'US',
    account_name: 'Game Hosting Co.',
    amount_due: amountDue,
    amount_overpaid: 0,
    amount_paid: paid ? amountDue : 0,
    amount_remaining: paid ? 0 : amountDue,
    amount_shipping: 0,
    attempt_count: attemptCount,
    attempted: attemptCount > 0,
    auto_advance: status === 'open',
    billing_reason: 'subscription_cycle',
    collection_method: 'charge_automatically',
    created,
    currency: shape.currency ?? 'usd',
    customer: shape.customer,
    customer_email: null,
    customer_name: null,
    description: null,
    due_date: null,
    hosted_invoice_url: `https://invoice.stripe.com/i/acct_test/${id}`,
    invoice_pdf: `https://pay.stripe.com/invoice/acct_test/${id}/pdf`,
    lines: { object: 'list', data: [], has_more: false, url: `/v1/invoices/${id}/lines` },
    livemode: false,
    metadata: {},
    next_payment_attempt: status === 'open' ? created + 3 * 86400 : null,
    number: `GH-${rand(6).toUpperCase()}`,
    parent: null,
    period_end: created,
    period_start: created - 30 * 86400,
    status,
    status_transitions: {
      finalized_at: created,
      marked_uncollectible_at: status === 'uncollectible' ? created : null,
      paid_at: paid ? created : null,
      voided_at: status === 'void' ? created : null,
    },
    subtotal: amountDue,
    total: amountDue,
    webhooks_delivered_at: created,
  };
}

export function buildDispute(options: { customer: string; amount?: number; currency?: string }) {
  const created = Math.floor(Date.now() / 1000);
  const chargeId = newId('ch');
  return {
    id: newId('du'),
    object: 'dispute',
    amount: options.amount ?? 2500,
    balance_transactions: [],
    // Expanded (as with `expand[]=charge`) so the service can map it to a customer without an
    // API call; Stripe's own deliveries carry the id and the service fetches the charge.
    charge: {
      id: chargeId,
      object: 'charge',
      amount: options.amount ?? 2500,
      currency: options.currency ?? 'usd',
      customer: options.customer,
      disputed: true,
      livemode: false,
      paid: true,
      status: 'succeeded',
    },
    created,
    currency: options.currency ?? 'usd',
    evidence: {},
    is_charge_refundable: false,
    livemode: false,
    metadata: {},
    payment_intent: null,
    reason: 'fraudulent',
    status: 'needs_response',
  };
}

export function buildSubscription(options: { customer: string; status: string }) {
  const created = Math.floor(Date.now() / 1000) - 86400 * 60;
  return {
    id: newId('sub'),
    object: 'subscription',
    cancel_at_period_end: false,
    canceled_at: options.status === 'canceled' ? Math.floor(Date.now() / 1000) : null,
    collection_method: 'charge_automatically',
    created,
    currency: 'usd',
    customer: options.customer,
    items: { object: 'list', data: [], has_more: false, url: '/v1/subscription_items' },
    livemode: false,
    metadata: {},
    status: options.status,
  };
}

export function buildEvent(
  type: string,
  object: Record<string, unknown>,
  options: { id?: string; created?: number } = {},
) {
  return {
    id: options.id ?? newId('evt'),
    object: 'event',
    api_version: API_VERSION,
    created: options.created ?? Math.floor(Date.now() / 1000),
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  };
}

export function simulatedEvent(
  kind: SimulatedKind,
  options: { customer: string; invoiceId?: string; amount?: number; currency?: string; created?: number },
) {
  const type = EVENT_TYPES[kind];
  const invoice = (status: InvoiceShape['status']) =>
    buildInvoice({
      id: options.invoiceId,
      customer: options.customer,
      amountDue: options.amount,
      currency: options.currency,
      status,
    });
  switch (kind) {
    case 'payment-failed':
      return buildEvent(type, invoice('open'), { created: options.created });
    case 'paid':
    case 'payment-succeeded':
      return buildEvent(type, invoice('paid'), { created: options.created });
    case 'voided':
      return buildEvent(type, invoice('void'), { created: options.created });
    case 'uncollectible':
      return buildEvent(type, invoice('uncollectible'), { created: options.created });
    case 'dispute':
      return buildEvent(type, buildDispute({ customer: options.customer, amount: options.amount }), {
        created: options.created,
      });
    case 'subscription-updated':
      return buildEvent(type, buildSubscription({ customer: options.customer, status: 'past_due' }), {
        created: options.created,
      });
    case 'subscription-deleted':
      return buildEvent(type, buildSubscription({ customer: options.customer, status: 'canceled' }), {
        created: options.created,
      });
  }
}

/** The Stripe-Signature header Stripe would send for this exact body. */
export function signPayload(payload: string, secret: string, timestamp?: number): string {
  return Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp });
}
