// One verified Stripe event: recorded in StripeEventLog first, then applied exactly once under
// the account's lock. A failure leaves the row `failed` and surfaces to the caller, so the
// webhook answers 5xx and Stripe's retry brings the event back for another attempt — unless the
// failure comes from the event's content (unprocessable.ts): then the event is stored
// `rejected`, alerted once and answered 2xx, and only a replay (replay.ts) applies it again.
//
// Ops alerts are queued in the same transaction as the outcome (pending Notification rows) and
// handed to Temporal only after the commit: nothing outside PostgreSQL and the ladder's own
// signal runs under the account's lock, and a Discord outage never fails a delivery.
import type Stripe from 'stripe';
import { driverPool, driverTransaction, sqlOn, type PrismaClient, type RawDb } from '../platform/database.js';
import { type Logger } from '../platform/logger.js';
import { type OpsAlert } from '../notifications/ops-alerts.js';
import { type LadderClient } from '../ladder/client.js';
import {
  applyPaymentFailed,
  applySettled,
  applyUncollectible,
  customerIdOf,
  invoiceFacts,
  type EffectResult,
} from './invoice-effects.js';
import {
  accountIdForCustomer,
  LOCK_STRIPE_ACCOUNT_SQL,
  OPEN_DISPUTE_SQL,
  type OpenDispute,
  markDisputed,
  saveSubscriptionStatus,
} from './sql/billing-account.js';
import { READ_INVOICE_SQL, type InvoiceRow } from './sql/invoice.js';
import {
  markDone,
  markFailed,
  markRejected,
  recordDelivery,
  recordRejectedDelivery,
  type EventLogRow,
} from './sql/stripe-event-log.js';
import { assertReadable } from './readable-event.js';
import { unprocessableReason } from './unprocessable.js';
import { failureDetail, rejectedEventAlert } from './rejected-events.js';
import {
  accountForPayment,
  savePaymentRefs,
  unresolvedDisputesFor,
  type PaymentRef,
} from './sql/payment-refs.js';
import { pendingOpsAlerts, queueOpsAlert } from './sql/ops-alert-outbox.js';

export interface IngestDeps {
  db: PrismaClient;
  ladder: LadderClient;
  minAmountDueCents: number;
  stripe?: Stripe;
  logger: Logger;
}

/** What ingesting a delivery can end in (the HTTP contract and the event log both read this). */
export const INGEST_STATUSES = ['processed', 'ignored', 'orphan', 'stale', 'unresolved', 'rejected'] as const;
export type IngestStatus = (typeof INGEST_STATUSES)[number];
/** The statuses of an applied event: everything but a rejection. */
export const APPLIED_STATUSES = INGEST_STATUSES.filter(
  (status): status is Exclude<IngestStatus, 'rejected'> => status !== 'rejected',
);

export interface IngestOptions {
  /** The verified request body, kept with the event if it is rejected (a replay reads it). */
  rawBody?: Buffer;
  /** Applies an event stored as rejected again; a delivery of one only answers "duplicate". */
  replay?: boolean;
}

export interface IngestResult {
  eventId: string;
  type: string;
  status: IngestStatus | 'duplicate';
  outcome: string;
  accountId: string | null;
}

// `unresolved` is not finished: a redelivery (or its charge becoming known) tries again.
const FINISHED: ReadonlySet<string> = new Set(['processed', 'ignored', 'orphan', 'stale']);

/** The events that tell which customer a charge or payment intent belongs to (for disputes). */
export const PAYMENT_REF_TYPES: readonly string[] = [
  'charge.succeeded',
  'payment_intent.succeeded',
  'invoice_payment.paid',
];

const idOf = (value: unknown): string | null => {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null) {
    const id = (value as { id?: unknown }).id;
    return typeof id === 'string' ? id : null;
  }
  return null;
};

/** A signed event may still lack fields (other API versions, test events): read defensively. */
function disputeRefs(dispute: Stripe.Dispute): { charge: string | null; paymentIntent: string | null } {
  return { charge: idOf(dispute.charge), paymentIntent: idOf(dispute.payment_intent) };
}

/** charge.succeeded / payment_intent.succeeded / invoice_payment.paid: who paid with what. */
function paymentRefsOf(event: Stripe.Event): PaymentRef[] {
  const object = event.data.object as unknown as Record<string, unknown>;
  const refs: PaymentRef[] = [];
  const add = (id: string | null, customerId: string | null, invoiceId: string | null) => {
    if (id && (customerId || invoiceId)) refs.push({ id, customerId, invoiceId });
  };
  if (event.type === 'invoice_payment.paid') {
    const payment = (object.payment ?? {}) as Record<string, unknown>;
    const invoiceId = idOf(object.invoice);
    add(idOf(payment.payment_intent), null, invoiceId);
    add(idOf(payment.charge), null, invoiceId);
    return refs;
  }
  const customerId = idOf(object.customer);
  add(idOf(object.id), customerId, null);
  // A charge names its payment intent, a payment intent its latest charge: both map.
  add(idOf(object.payment_intent), customerId, null);
  add(idOf(object.latest_charge), customerId, null);
  return refs;
}

/** Where an event points: the Stripe object and, where the event says, the customer. */
function subjectOf(event: Stripe.Event): { objectId: string | null; customerId: string | null } {
  switch (event.type) {
    case 'invoice.payment_failed':
    case 'invoice.paid':
    case 'invoice.payment_succeeded':
    case 'invoice.voided':
    case 'invoice.marked_uncollectible': {
      const invoice = event.data.object;
      return { objectId: invoice.id, customerId: customerIdOf(invoice.customer) };
    }
    case 'customer.subscription.updated':
    case 'customer.subscription.deleted': {
      const subscription = event.data.object;
      return { objectId: subscription.id, customerId: customerIdOf(subscription.customer) };
    }
    case 'charge.dispute.created': {
      const dispute = event.data.object;
      // Stripe sends the charge as an id; only an expanded one (never in a webhook) names a
      // customer. The account is found from the charge instead (resolveDispute).
      const charge: unknown = dispute.charge;
      const customer =
        typeof charge === 'object' && charge !== null ? (charge as Stripe.Charge).customer : null;
      return { objectId: dispute.id, customerId: customerIdOf(customer) };
    }
    default: {
      const object = event.data.object as { id?: unknown };
      return { objectId: typeof object.id === 'string' ? object.id : null, customerId: null };
    }
  }
}

export function isHandledType(type: string): boolean {
  return HANDLED_TYPES.has(type);
}

const HANDLED_TYPES: ReadonlySet<string> = new Set([
  'invoice.payment_failed',
  'invoice.paid',
  'invoice.payment_succeeded',
  'invoice.voided',
  'invoice.marked_uncollectible',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'charge.dispute.created',
  ...PAYMENT_REF_TYPES,
]);

/** Thrown inside the transaction when a concurrent copy recorded the outcome first: roll back. */
class AppliedByAnotherCopy extends Error {}

type DisputeAccount =
  | { accountId: string; via: string }
  | { accountId: null; customerId: string; via: string }
  | { accountId: null; customerId: null; charge: string | null; paymentIntent: string | null };

export function createStripeEventIngest(deps: IngestDeps) {
  const { ladder, logger } = deps;
  // Every statement here goes straight through node-postgres on Prisma's own pool: Prisma's
  // client costs about 0.5 ms of CPU per statement, and these run for every delivery.
  const pool = driverPool(deps.db);
  const db = sqlOn(pool);

  /**
   * The account of a dispute: (a) the charge or payment intent seen before in a charge.succeeded,
   * payment_intent.succeeded or invoice_payment.paid event; (b) with STRIPE_SECRET_KEY, the charge
   * as Stripe reports it now; otherwise nobody can tell yet.
   */
  async function resolveDispute(dispute: Stripe.Dispute): Promise<DisputeAccount> {
    const { charge, paymentIntent } = disputeRefs(dispute);
    const ids = [charge, paymentIntent].filter((id): id is string => id !== null);
    const stored = await accountForPayment(db, ids);
    if (stored) return { accountId: stored, via: 'a stored charge or payment intent' };
    if (deps.stripe && charge) {
      const customerId = customerIdOf((await deps.stripe.charges.retrieve(charge)).customer);
      if (customerId) {
        const accountId = await accountIdForCustomer(db, customerId);
        return accountId
          ? { accountId, via: `the charge, retrieved from Stripe` }
          : { accountId: null, customerId, via: `the charge, retrieved from Stripe` };
      }
    }
    return { accountId: null, customerId: null, charge, paymentIntent };
  }

  async function apply(
    tx: RawDb,
    event: Stripe.Event,
    accountId: string,
    alerts: OpsAlert[],
  ): Promise<EffectResult> {
    const eventCreated = new Date(event.created * 1000);
    const effects = { ladder, minAmountDueCents: deps.minAmountDueCents, stripe: deps.stripe };
    switch (event.type) {
      case 'invoice.payment_failed': {
        const invoice = invoiceFacts(event.data.object);
        return applyPaymentFailed(tx, effects, { accountId, invoice, eventId: event.id, eventCreated });
      }
      case 'invoice.paid':
      case 'invoice.payment_succeeded':
      case 'invoice.voided': {
        const invoice = invoiceFacts(event.data.object);
        const how = event.type === 'invoice.voided' ? 'voided' : 'paid';
        return applySettled(tx, effects, { accountId, invoice, how, eventId: event.id, eventCreated });
      }
      case 'invoice.marked_uncollectible': {
        const invoice = invoiceFacts(event.data.object);
        return applyUncollectible(tx, { accountId, invoice, eventId: event.id, eventCreated });
      }
      case 'customer.subscription.updated':
      case 'customer.subscription.deleted': {
        const subscription = event.data.object;
        const status = event.type === 'customer.subscription.deleted' ? 'canceled' : subscription.status;
        return (await saveSubscriptionStatus(tx, accountId, status, eventCreated))
          ? { status: 'processed', outcome: `subscription ${subscription.id} is ${status}` }
          : { status: 'stale', outcome: 'older than the last subscription event applied' };
      }
      case 'charge.dispute.created': {
        const dispute = event.data.object;
        await markDisputed(tx, accountId);
        const frozen = await ladder.disputeOpened(accountId, {
          disputeId: dispute.id,
          eventId: event.id,
          at: eventCreated.toISOString(),
        });
        alerts.push({
          accountId,
          key: `stripe:${event.id}:dispute`,
          title: 'Payment disputed',
          detail:
            `Dispute ${dispute.id} (${dispute.amount} ${dispute.currency}, reason ${dispute.reason}). ` +
            (frozen
              ? 'The enforcement ladder is frozen until an admin resumes it.'
              : 'No ladder is running; the account is flagged disputed.'),
        });
        return { status: 'processed', outcome: frozen ? 'disputed: ladder frozen' : 'disputed: flagged' };
      }
      default:
        return { status: 'ignored', outcome: `${event.type} is not handled` };
    }
  }

  /** After the commit: Temporal posts them (retrying Discord); a failed hand-over stays queued. */
  async function handOver(alerts: readonly OpsAlert[]) {
    for (const alert of alerts) {
      try {
        await ladder.opsAlert(alert);
      } catch (error) {
        logger.warn(
          { key: alert.key, err: error instanceof Error ? error.message : String(error) },
          'ops alert queued, not yet handed to Temporal; the outbox sweep retries it',
        );
      }
    }
  }

  /** One alert outside a transaction of its own (rejected events): queued, then handed over. */
  async function alertNow(alert: OpsAlert) {
    await queueOpsAlert(db, alert);
    await handOver([alert]);
  }

  /** An outcome and its alerts in one transaction, without the account's lock (no effect). */
  async function finishWithAlerts(
    event: Stripe.Event,
    accountId: string | null,
    effect: { status: IngestStatus; outcome: string },
    alerts: OpsAlert[],
    from: string[],
  ): Promise<IngestResult> {
    const recorded = await driverTransaction(pool, async (tx) => {
      for (const alert of alerts) await queueOpsAlert(tx, alert);
      return markDone(tx, event.id, accountId, effect, from);
    });
    if (recorded) await handOver(alerts);
    return { eventId: event.id, type: event.type, ...effect, accountId };
  }

  function orphan(event: Stripe.Event, customerId: string, from: string[]): Promise<IngestResult> {
    return finishWithAlerts(
      event,
      null,
      { status: 'orphan', outcome: `no account for customer ${customerId}` },
      [
        {
          accountId: null,
          key: `stripe:${event.id}:orphan`,
          title: 'Stripe event for an unknown customer',
          detail: `${event.type} ${event.id} for customer ${customerId}: no account has this Stripe customer id. Sync the account (PUT /v1/accounts/:id), then resend the event from the Stripe dashboard.`,
        },
      ],
      from,
    );
  }

  function unresolved(
    event: Stripe.Event,
    refs: { charge: string | null; paymentIntent: string | null },
    from: string[],
  ): Promise<IngestResult> {
    const dispute = event.data.object as Stripe.Dispute;
    const names = [
      refs.charge && `charge ${refs.charge}`,
      refs.paymentIntent && `payment intent ${refs.paymentIntent}`,
    ]
      .filter(Boolean)
      .join(', ');
    return finishWithAlerts(
      event,
      null,
      {
        status: 'unresolved',
        outcome: `unresolved dispute: no account known for ${names || 'a dispute without a charge'}`,
      },
      [
        {
          accountId: null,
          key: `stripe:${event.id}:unresolved`,
          title: 'Dispute for an unknown account: ladder NOT frozen',
          detail:
            `Dispute ${dispute.id} (${dispute.amount} ${dispute.currency}) on ${names || 'no charge'}: no stored charge or payment intent matches and no STRIPE_SECRET_KEY is set, so no account was frozen. ` +
            "Find the charge's customer in the Stripe dashboard and freeze that account by hand (billing pause), or: set STRIPE_SECRET_KEY, or subscribe the webhook endpoint to charge.succeeded, payment_intent.succeeded and invoice_payment.paid; " +
            `then resend ${event.id} from the Stripe dashboard. The dispute is kept (status unresolved) and applied as soon as its charge becomes known.`,
        },
      ],
      from,
    );
  }

  /** charge.succeeded, payment_intent.succeeded, invoice_payment.paid: remember who paid. */
  async function recordPaymentRefs(event: Stripe.Event, from: string[]): Promise<IngestResult> {
    const refs = paymentRefsOf(event);
    await savePaymentRefs(db, refs);
    const result = await finish(
      event,
      null,
      {
        status: refs.length > 0 ? 'processed' : 'ignored',
        outcome:
          refs.length > 0
            ? `payment refs recorded: ${refs.map((r) => r.id).join(', ')}`
            : 'names no customer or invoice: nothing to record',
      },
      from,
    );
    // Disputes that arrived before their charge was known are applied now.
    for (const payload of await unresolvedDisputesFor(
      db,
      refs.map((r) => r.id),
    )) {
      const waiting = payload as Stripe.Event;
      const retried = await ingest(waiting);
      logger.info({ eventId: waiting.id, status: retried.status }, 'unresolved dispute retried');
    }
    return result;
  }

  async function ingest(event: Stripe.Event, options: IngestOptions = {}): Promise<IngestResult> {
    const { objectId, customerId: named } = subjectOf(event);
    const base = { eventId: event.id, type: event.type };
    // The statuses an outcome may replace: a replay starts from `rejected`.
    const from = options.replay
      ? ['received', 'failed', 'unresolved', 'rejected']
      : ['received', 'failed', 'unresolved'];

    // 1. Durably recorded before anything else; a redelivery only counts the attempt. The same
    // statement finds the account of the customer the event names.
    let row: EventLogRow & { customerAccountId: string | null };
    try {
      row = await recordDelivery(db, event, objectId, named);
    } catch (error) {
      const reason = unprocessableReason(error);
      if (reason === null) throw error;
      return await rejectUnrecordable(event, reason, error, options);
    }
    if (FINISHED.has(row.status) || (row.status === 'rejected' && !options.replay)) {
      // Stripe resends what it got no 2xx for: a rejected event's alert is made sure of (the
      // ledger posts it once), nothing is applied.
      if (row.status === 'rejected') await alertNow(rejectedEventAlert(event, row.outcome ?? 'rejected'));
      return { ...base, status: 'duplicate', outcome: row.outcome ?? row.status, accountId: row.accountId };
    }

    try {
      if (!isHandledType(event.type)) {
        return await finish(
          event,
          null,
          { status: 'ignored', outcome: `${event.type} is not handled` },
          from,
        );
      }
      assertReadable(event);
      if (PAYMENT_REF_TYPES.includes(event.type)) return await recordPaymentRefs(event, from);

      let accountId = row.customerAccountId;
      if (event.type === 'charge.dispute.created' && !accountId) {
        const found = await resolveDispute(event.data.object);
        if (found.accountId === null) {
          return found.customerId === null
            ? await unresolved(event, found, from)
            : await orphan(event, found.customerId, from);
        }
        accountId = found.accountId;
      }
      if (!accountId) return await orphan(event, named ?? '(not named)', from);

      // 2. Applied once: deliveries for one account queue behind each other. A concurrent copy of
      // this event that recorded its outcome first makes markDone change nothing: this copy rolls
      // back (its ladder signal repeats one the workflow has, which it ignores).
      const alerts: OpsAlert[] = [];
      const target = accountId;
      // BEGIN, the lock and (for an invoice event) the invoice's row go in one round trip; so
      // does, for a payment failure, a dispute that came while no ladder ran.
      const invoiceId = event.type.startsWith('invoice.') ? objectId : null;
      const failed = event.type === 'invoice.payment_failed';
      const result = await driverTransaction(
        pool,
        async (sql, [, invoiceRows, disputeRows]) => {
          const tx = {
            ...sql,
            ...(invoiceId && invoiceRows
              ? {
                  knownInvoices: new Map([[invoiceId, (invoiceRows[0] as InvoiceRow | undefined) ?? null]]),
                }
              : {}),
            ...(failed && disputeRows
              ? { openDispute: (disputeRows[0] as OpenDispute | undefined) ?? null }
              : {}),
          };
          const effect = await apply(tx, event, target, alerts);
          for (const alert of alerts) await queueOpsAlert(tx, alert);
          if (!(await markDone(tx, event.id, target, effect, from))) {
            throw new AppliedByAnotherCopy();
          }
          return effect;
        },
        (literal) => [
          LOCK_STRIPE_ACCOUNT_SQL(literal, target),
          ...(invoiceId ? [READ_INVOICE_SQL(literal(invoiceId))] : []),
          ...(failed && invoiceId ? [OPEN_DISPUTE_SQL(literal, target)] : []),
        ],
      );
      await handOver(alerts);
      return { ...base, ...result, accountId };
    } catch (error) {
      if (error instanceof AppliedByAnotherCopy) {
        const [done] = await db.$queryRaw<{ outcome: string | null; status: string }[]>`
          SELECT status::text AS status, outcome FROM "StripeEventLog" WHERE id = ${event.id}`;
        return {
          ...base,
          status: 'duplicate',
          outcome: done?.outcome ?? done?.status ?? 'duplicate',
          accountId: null,
        };
      }
      const reason = unprocessableReason(error);
      if (reason !== null) return await reject(event, reason, error, options, from);
      // A replay that fails on the way (an outage) leaves the event rejected, to be replayed again.
      if (options.replay) throw error;
      const message = error instanceof Error ? error.message : String(error);
      await markFailed(db, event.id, message).catch((markError: unknown) =>
        logger.warn({ eventId: event.id, err: String(markError) }, 'could not mark the event failed'),
      );
      throw error;
    }
  }

  /** Stored rejected (its effects rolled back with the transaction), alerted once. */
  async function reject(
    event: Stripe.Event,
    reason: string,
    error: unknown,
    options: IngestOptions,
    from: string[],
  ): Promise<IngestResult> {
    const rejection = { reason, detail: failureDetail(error), rawBody: options.rawBody ?? null };
    await markRejected(db, event.id, rejection, from);
    await alertNow(rejectedEventAlert(event, reason));
    return { eventId: event.id, type: event.type, status: 'rejected', outcome: reason, accountId: null };
  }

  /** An event the log cannot record as it is: a row of what can be stored, rejected. */
  async function rejectUnrecordable(
    event: Stripe.Event,
    reason: string,
    error: unknown,
    options: IngestOptions,
  ): Promise<IngestResult> {
    const rejection = { reason, detail: failureDetail(error), rawBody: options.rawBody ?? null };
    const row = await recordRejectedDelivery(db, event, rejection);
    if (!row.inserted) {
      if (row.status === 'rejected' && options.replay)
        return reject(event, reason, error, options, ['rejected']);
      if (row.status === 'rejected') await alertNow(rejectedEventAlert(event, row.outcome ?? reason));
      return {
        eventId: event.id,
        type: event.type,
        status: 'duplicate',
        outcome: row.outcome ?? row.status,
        accountId: row.accountId,
      };
    }
    await alertNow(rejectedEventAlert(event, reason));
    return { eventId: event.id, type: event.type, status: 'rejected', outcome: reason, accountId: null };
  }

  /** Outcomes without an effect to serialize: recorded unless a concurrent copy already was. */
  async function finish(
    event: Stripe.Event,
    accountId: string | null,
    effect: EffectResult | { status: 'orphan'; outcome: string },
    from: string[],
  ): Promise<IngestResult> {
    await markDone(db, event.id, accountId, effect, from);
    return { eventId: event.id, type: event.type, ...effect, accountId };
  }

  /**
   * Alerts queued more than `olderThanMs` ago and still pending: their hand-over to Temporal
   * failed (or the process stopped right after the commit). Handed over again; an alert Temporal
   * already has is not started twice. Run periodically by the HTTP service.
   */
  async function sweepQueuedAlerts(olderThanMs = 60_000): Promise<number> {
    const alerts = await pendingOpsAlerts(db, new Date(Date.now() - olderThanMs));
    await handOver(alerts);
    return alerts.length;
  }

  return Object.assign(ingest, { sweepQueuedAlerts });
}

/** One event through the ingest (a delivery or a replay). */
export type StripeEventIngest = (event: Stripe.Event, options?: IngestOptions) => Promise<IngestResult>;
/** The ingest as the HTTP service runs it: with the sweep of its queued ops alerts. */
export type SweepingStripeEventIngest = ReturnType<typeof createStripeEventIngest>;
