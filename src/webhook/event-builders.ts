// Stripe events as Stripe sends them, signed like Stripe signs them. Every object starts from
// Stripe's own published example of it (./stripe-shapes/, the pinned API version) and only its
// ids, customer, status and amounts are set. Used by `billing simulate` (our `stripe trigger`),
// the tests and the benchmarks — never by the service itself.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Stripe from 'stripe';

/** The API version stripe-node pins (and that ./stripe-shapes/ was taken for). */
export const API_VERSION = '2026-10-28.endive';

type StripeObject = Record<string, unknown>;
type ShapeName =
  'charge' | 'dispute' | 'event' | 'invoice' | 'invoice_payment' | 'payment_intent' | 'subscription';

const SHAPES = JSON.parse(
  readFileSync(new URL('./stripe-shapes/objects.json', import.meta.url), 'utf8'),
) as Record<ShapeName, StripeObject>;

/** A fresh deep copy of Stripe's published object, to set fields on. */
function shape(name: ShapeName): StripeObject {
  return structuredClone(SHAPES[name]);
}

const rand = (n = 14) => randomBytes(n).toString('base64url').replace(/[-_]/g, 'x').slice(0, n);
export const newId = (prefix: string) => `${prefix}_${rand(24)}`;

export type SimulatedKind =
  | 'payment-failed'
  | 'paid'
  | 'payment-succeeded'
  | 'voided'
  | 'uncollectible'
  | 'charge-succeeded'
  | 'dispute'
  | 'subscription-updated'
  | 'subscription-deleted';

export const SIMULATED_KINDS: readonly SimulatedKind[] = [
  'payment-failed',
  'paid',
  'payment-succeeded',
  'voided',
  'uncollectible',
  'charge-succeeded',
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
  'charge-succeeded': 'charge.succeeded',
  dispute: 'charge.dispute.created',
  'subscription-updated': 'customer.subscription.updated',
  'subscription-deleted': 'customer.subscription.deleted',
};

const nowSeconds = () => Math.floor(Date.now() / 1000);

export interface InvoiceShape {
  id?: string;
  customer: string;
  amountDue?: number;
  currency?: string;
  status?: 'draft' | 'open' | 'paid' | 'uncollectible' | 'void';
  attemptCount?: number;
  created?: number;
}

export function buildInvoice(options: InvoiceShape): StripeObject {
  const invoice = shape('invoice');
  const id = options.id ?? newId('in');
  const created = options.created ?? nowSeconds() - 3600;
  const amountDue = options.amountDue ?? 2500;
  const currency = options.currency ?? 'usd';
  const status = options.status ?? 'open';
  const paid = status === 'paid';
  const attemptCount = options.attemptCount ?? 1;
  const finalized = status !== 'draft';
  const lines = invoice.lines as { data: StripeObject[]; url: string };
  for (const line of lines.data) Object.assign(line, { amount: amountDue, currency, invoice: id });
  lines.url = `/v1/invoices/${id}/lines`;
  return Object.assign(invoice, {
    id,
    customer: options.customer,
    created,
    currency,
    status,
    amount_due: amountDue,
    amount_overpaid: 0,
    amount_paid: paid ? amountDue : 0,
    amount_remaining: paid ? 0 : amountDue,
    subtotal: amountDue,
    subtotal_excluding_tax: amountDue,
    total: amountDue,
    total_excluding_tax: amountDue,
    attempt_count: attemptCount,
    attempted: attemptCount > 0,
    // Its collection_method is charge_automatically, which has no due date (the published
    // example carries one, which would make every built invoice past due).
    due_date: null,
    // Stripe gives a finalized invoice its payment page and PDF.
    hosted_invoice_url: finalized ? `https://invoice.stripe.com/i/acct_test/${id}` : null,
    invoice_pdf: finalized ? `https://pay.stripe.com/invoice/acct_test/${id}/pdf` : null,
    status_transitions: {
      finalized_at: finalized ? created : null,
      marked_uncollectible_at: status === 'uncollectible' ? created : null,
      paid_at: paid ? created : null,
      voided_at: status === 'void' ? created : null,
    },
  });
}

/** A charge of the customer (what `charge.succeeded` carries). */
export function buildCharge(options: {
  id?: string;
  customer: string | null;
  paymentIntent?: string | null;
  amount?: number;
  currency?: string;
  status?: 'succeeded' | 'pending' | 'failed';
  disputed?: boolean;
}): StripeObject {
  const charge = shape('charge');
  const id = options.id ?? newId('ch');
  const amount = options.amount ?? 2500;
  const status = options.status ?? 'succeeded';
  (charge.refunds as { url: string }).url = `/v1/charges/${id}/refunds`;
  return Object.assign(charge, {
    id,
    customer: options.customer,
    payment_intent: options.paymentIntent ?? null,
    amount,
    amount_captured: status === 'succeeded' ? amount : 0,
    captured: status === 'succeeded',
    paid: status === 'succeeded',
    currency: options.currency ?? 'usd',
    status,
    disputed: options.disputed ?? false,
  });
}

/** A payment intent of the customer (what `payment_intent.succeeded` carries). */
export function buildPaymentIntent(options: {
  id?: string;
  customer: string | null;
  latestCharge?: string | null;
  amount?: number;
  currency?: string;
  status?: 'succeeded' | 'requires_payment_method' | 'processing';
}): StripeObject {
  const intent = shape('payment_intent');
  const id = options.id ?? newId('pi');
  const amount = options.amount ?? 2500;
  const status = options.status ?? 'succeeded';
  return Object.assign(intent, {
    id,
    client_secret: `${id}_secret_${rand(24)}`,
    customer: options.customer,
    latest_charge: options.latestCharge ?? null,
    amount,
    amount_received: status === 'succeeded' ? amount : 0,
    currency: options.currency ?? 'usd',
    status,
  });
}

/** A payment of an invoice (what `invoice_payment.paid` carries): no customer, the invoice's id. */
export function buildInvoicePayment(options: {
  id?: string;
  invoice: string;
  paymentIntent?: string;
  charge?: string;
  amount?: number;
  currency?: string;
  status?: 'paid' | 'open' | 'canceled';
}): StripeObject {
  const payment = shape('invoice_payment');
  const amount = options.amount ?? 2500;
  const status = options.status ?? 'paid';
  return Object.assign(payment, {
    id: options.id ?? newId('inpay'),
    invoice: options.invoice,
    payment: options.charge
      ? { type: 'charge', charge: options.charge }
      : { type: 'payment_intent', payment_intent: options.paymentIntent ?? newId('pi') },
    amount_requested: amount,
    amount_paid: status === 'paid' ? amount : null,
    currency: options.currency ?? 'usd',
    status,
  });
}

/**
 * A dispute as Stripe sends it: `charge` and `payment_intent` are ids and no customer is named,
 * so the service must find the account from the charge (see docs/design.md, "Disputes").
 */
export function buildDispute(options: {
  id?: string;
  charge: string;
  paymentIntent?: string | null;
  amount?: number;
  currency?: string;
  status?: 'needs_response' | 'warning_needs_response' | 'under_review' | 'won' | 'lost';
}): StripeObject {
  const dispute = shape('dispute');
  return Object.assign(dispute, {
    id: options.id ?? newId('dp'),
    charge: options.charge,
    payment_intent: options.paymentIntent ?? null,
    amount: options.amount ?? 2500,
    currency: options.currency ?? 'usd',
    created: nowSeconds(),
    status: options.status ?? 'needs_response',
  });
}

export function buildSubscription(options: { id?: string; customer: string; status: string }): StripeObject {
  const subscription = shape('subscription');
  const id = options.id ?? newId('sub');
  const items = subscription.items as { data: StripeObject[]; url: string };
  for (const item of items.data) item.subscription = id;
  items.url = `/v1/subscription_items?subscription=${id}`;
  const canceled = options.status === 'canceled';
  return Object.assign(subscription, {
    id,
    customer: options.customer,
    status: options.status,
    // The published example is a canceled one; a live subscription has none of these set.
    cancel_at: null,
    cancel_at_period_end: false,
    canceled_at: canceled ? nowSeconds() : null,
    ended_at: canceled ? nowSeconds() : null,
  });
}

export function buildEvent(
  type: string,
  object: Record<string, unknown>,
  options: { id?: string; created?: number } = {},
) {
  const event = shape('event');
  return Object.assign(event, {
    id: options.id ?? newId('evt'),
    api_version: API_VERSION,
    created: options.created ?? nowSeconds(),
    data: { object },
    pending_webhooks: 1,
    type,
  }) as unknown as {
    id: string;
    object: 'event';
    type: string;
    created: number;
    data: { object: Record<string, unknown> };
  } & StripeObject;
}

export interface SimulatedOptions {
  customer: string;
  invoiceId?: string;
  /** The charge a `charge-succeeded` or `dispute` is about (default: a new one). */
  chargeId?: string;
  paymentIntentId?: string;
  amount?: number;
  currency?: string;
  created?: number;
}

export function simulatedEvent(kind: SimulatedKind, options: SimulatedOptions) {
  const type = EVENT_TYPES[kind];
  const at = { created: options.created };
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
      return buildEvent(type, invoice('open'), at);
    case 'paid':
    case 'payment-succeeded':
      return buildEvent(type, invoice('paid'), at);
    case 'voided':
      return buildEvent(type, invoice('void'), at);
    case 'uncollectible':
      return buildEvent(type, invoice('uncollectible'), at);
    case 'charge-succeeded':
      return buildEvent(
        type,
        buildCharge({
          id: options.chargeId,
          customer: options.customer,
          paymentIntent: options.paymentIntentId,
          amount: options.amount,
          currency: options.currency,
        }),
        at,
      );
    case 'dispute':
      // Stripe's shape: the charge's id, no customer (options.customer is not in the event).
      return buildEvent(
        type,
        buildDispute({
          charge: options.chargeId ?? newId('ch'),
          paymentIntent: options.paymentIntentId,
          amount: options.amount,
          currency: options.currency,
        }),
        at,
      );
    case 'subscription-updated':
      return buildEvent(type, buildSubscription({ customer: options.customer, status: 'past_due' }), at);
    case 'subscription-deleted':
      return buildEvent(type, buildSubscription({ customer: options.customer, status: 'canceled' }), at);
  }
}

/** The Stripe-Signature header Stripe would send for this exact body. */
export function signPayload(payload: string, secret: string, timestamp?: number): string {
  return Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp });
}
