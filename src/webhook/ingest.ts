// One verified Stripe event: recorded in StripeEventLog first, then applied exactly once under
// the account's lock. A failure leaves the row `failed` and surfaces to the caller, so the
// webhook answers 5xx and Stripe's retry brings the event back for another attempt — unless the
// failure comes from the event's content (unprocessable.ts): then the event is stored
// `rejected`, alerted once and answered 2xx, and only a replay (replay.ts) applies it again.
import type Stripe from 'stripe';
import { type Prisma, type PrismaClient } from '../platform/database.js';
import { type Logger } from '../platform/logger.js';
import { type AlertOps } from '../notifications/ops-alerts.js';
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
  lockStripeAccount,
  markDisputed,
  saveSubscriptionStatus,
} from './sql/billing-account.js';
import {
  markDone,
  markFailed,
  markRejected,
  readEventStatus,
  recordDelivery,
  recordRejectedDelivery,
  type EventLogRow,
} from './sql/stripe-event-log.js';
import { assertReadable } from './readable-event.js';
import { unprocessableReason } from './unprocessable.js';
import { failureDetail, rejectedEventAlert } from './rejected-events.js';

export interface IngestDeps {
  db: PrismaClient;
  ladder: LadderClient;
  minAmountDueCents: number;
  stripe?: Stripe;
  alertOps: AlertOps;
  logger: Logger;
}

export type IngestStatus = 'processed' | 'ignored' | 'orphan' | 'stale' | 'rejected';

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

const FINISHED: ReadonlySet<string> = new Set(['processed', 'ignored', 'orphan', 'stale']);

// A signed event is Stripe's, but its object may still lack fields (other API versions, test
// events): the dispute's charge is read defensively, so a gap means "orphan", never a crash.
function expandedCharge(dispute: Stripe.Dispute): { id?: unknown; customer?: string | null } | null {
  const charge: unknown = dispute.charge;
  return typeof charge === 'object' && charge !== null ? charge : null;
}

function chargeIdOf(dispute: Stripe.Dispute): string | null {
  const charge: unknown = dispute.charge;
  if (typeof charge === 'string') return charge;
  const id = expandedCharge(dispute)?.id;
  return typeof id === 'string' ? id : null;
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
      // Webhooks carry the charge as an id; an expanded charge names its customer directly.
      return { objectId: dispute.id, customerId: customerIdOf(expandedCharge(dispute)?.customer) };
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
]);

export function createStripeEventIngest(deps: IngestDeps) {
  const { db, ladder, logger } = deps;

  async function resolveCustomer(event: Stripe.Event, customerId: string | null): Promise<string | null> {
    if (customerId) return customerId;
    if (event.type === 'charge.dispute.created' && deps.stripe) {
      const chargeId = chargeIdOf(event.data.object);
      if (!chargeId) return null;
      const charge = await deps.stripe.charges.retrieve(chargeId);
      return customerIdOf(charge.customer);
    }
    return null;
  }

  async function apply(
    tx: Prisma.TransactionClient,
    event: Stripe.Event,
    accountId: string,
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
        await deps.alertOps({
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

  return async function ingest(event: Stripe.Event, options: IngestOptions = {}): Promise<IngestResult> {
    const { objectId, customerId: named } = subjectOf(event);
    const base = { eventId: event.id, type: event.type };
    // The statuses an outcome may replace: a replay starts from `rejected`.
    const from = options.replay ? ['received', 'failed', 'rejected'] : ['received', 'failed'];

    // 1. Durably recorded before anything else; a redelivery only counts the attempt.
    let row: EventLogRow;
    try {
      row = await recordDelivery(db, event, objectId);
    } catch (error) {
      const reason = unprocessableReason(error);
      if (reason === null) throw error;
      return await rejectUnrecordable(event, reason, error, options);
    }
    if (FINISHED.has(row.status) || (row.status === 'rejected' && !options.replay)) {
      // Stripe resends what it got no 2xx for: a rejected event's alert is made sure of (the
      // ledger posts it once), nothing is applied.
      if (row.status === 'rejected')
        await deps.alertOps(rejectedEventAlert(event, row.outcome ?? 'rejected'));
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
      const customerId = await resolveCustomer(event, named);
      const accountId = customerId ? await accountIdForCustomer(db, customerId) : null;
      if (!accountId) {
        await deps.alertOps({
          accountId: null,
          key: `stripe:${event.id}:orphan`,
          title: 'Stripe event for an unknown customer',
          detail: `${event.type} ${event.id} for customer ${customerId ?? '(not resolvable)'}: no account has this Stripe customer id. Sync the account (PUT /v1/accounts/:id), then resend the event from the Stripe dashboard.`,
        });
        return await finish(
          event,
          null,
          { status: 'orphan', outcome: `no account for customer ${customerId ?? '(unknown)'}` },
          from,
        );
      }

      // 2. Applied once: deliveries for one account queue behind each other, and the row is
      // checked again under the lock (a concurrent copy of this event may have won).
      const result = await db.$transaction(
        async (tx) => {
          await lockStripeAccount(tx, accountId);
          const current = await readEventStatus(tx, event.id);
          if (!current) throw new Error(`event ${event.id} vanished from the event log`);
          if (FINISHED.has(current.status) || (current.status === 'rejected' && !options.replay)) {
            return { status: 'duplicate' as const, outcome: current.outcome ?? current.status };
          }
          const effect = await apply(tx, event, accountId);
          await markDone(tx, event.id, accountId, effect, from);
          return effect;
        },
        { maxWait: 10_000, timeout: 20_000 },
      );
      return { ...base, ...result, accountId };
    } catch (error) {
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
  };

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
    await deps.alertOps(rejectedEventAlert(event, reason));
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
      if (row.status === 'rejected') await deps.alertOps(rejectedEventAlert(event, row.outcome ?? reason));
      return {
        eventId: event.id,
        type: event.type,
        status: 'duplicate',
        outcome: row.outcome ?? row.status,
        accountId: row.accountId,
      };
    }
    await deps.alertOps(rejectedEventAlert(event, reason));
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
}

export type StripeEventIngest = ReturnType<typeof createStripeEventIngest>;
