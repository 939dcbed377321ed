// One verified Stripe event: recorded in StripeEventLog first, then applied exactly once under
// the account's lock. A failure leaves the row `failed` and surfaces to the caller, so the
// webhook answers 5xx and Stripe's retry brings the event back for another attempt.
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
import { markDone, markFailed, readEventStatus, recordDelivery } from './sql/stripe-event-log.js';

export interface IngestDeps {
  db: PrismaClient;
  ladder: LadderClient;
  minAmountDueCents: number;
  stripe?: Stripe;
  alertOps: AlertOps;
  logger: Logger;
}

export type IngestStatus = 'processed' | 'ignored' | 'orphan' | 'stale';

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

  return async function ingest(event: Stripe.Event): Promise<IngestResult> {
    const { objectId, customerId: named } = subjectOf(event);
    const base = { eventId: event.id, type: event.type };

    // 1. Durably recorded before anything else; a redelivery only counts the attempt.
    const row = await recordDelivery(db, event, objectId);
    if (FINISHED.has(row.status)) {
      return { ...base, status: 'duplicate', outcome: row.outcome ?? row.status, accountId: row.accountId };
    }

    try {
      if (!isHandledType(event.type)) {
        return await finish(event, null, { status: 'ignored', outcome: `${event.type} is not handled` });
      }
      const customerId = await resolveCustomer(event, named);
      const accountId = customerId ? await accountIdForCustomer(db, customerId) : null;
      if (!accountId) {
        await deps.alertOps({
          accountId: null,
          key: `stripe:${event.id}:orphan`,
          title: 'Stripe event for an unknown customer',
          detail: `${event.type} ${event.id} for customer ${customerId ?? '(not resolvable)'}: no account has this Stripe customer id. Sync the account (PUT /v1/accounts/:id), then resend the event from the Stripe dashboard.`,
        });
        return await finish(event, null, {
          status: 'orphan',
          outcome: `no account for customer ${customerId ?? '(unknown)'}`,
        });
      }

      // 2. Applied once: deliveries for one account queue behind each other, and the row is
      // checked again under the lock (a concurrent copy of this event may have won).
      const result = await db.$transaction(
        async (tx) => {
          await lockStripeAccount(tx, accountId);
          const current = await readEventStatus(tx, event.id);
          if (!current) throw new Error(`event ${event.id} vanished from the event log`);
          if (FINISHED.has(current.status)) {
            return { status: 'duplicate' as const, outcome: current.outcome ?? current.status };
          }
          const effect = await apply(tx, event, accountId);
          await markDone(tx, event.id, accountId, effect, ['received', 'failed']);
          return effect;
        },
        { maxWait: 10_000, timeout: 20_000 },
      );
      return { ...base, ...result, accountId };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await markFailed(db, event.id, message).catch((markError: unknown) =>
        logger.warn({ eventId: event.id, err: String(markError) }, 'could not mark the event failed'),
      );
      throw error;
    }
  };

  /** Outcomes without an effect to serialize: recorded unless a concurrent copy already was. */
  async function finish(
    event: Stripe.Event,
    accountId: string | null,
    effect: EffectResult | { status: 'orphan'; outcome: string },
  ): Promise<IngestResult> {
    await markDone(db, event.id, accountId, effect, ['received', 'failed']);
    return { eventId: event.id, type: event.type, ...effect, accountId };
  }
}

export type StripeEventIngest = ReturnType<typeof createStripeEventIngest>;
