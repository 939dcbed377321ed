// StripeEventLog: every verified delivery, recorded before anything else, and its outcome.
//
// Raw SQL: these statements run on every delivery, the webhook's hot path. A raw statement costs
// about a quarter of the CPU of Prisma's model query (measured: 0.55 vs 2.2 ms per query), and
// that decides how many events one service ingests per second. Timestamps are written in UTC,
// like the columns Prisma writes (see utcTimestamp).
import type Stripe from 'stripe';
import { Prisma, utcTimestamp, type RawDb } from '../../platform/database.js';

export interface EventLogRow {
  status: string;
  outcome: string | null;
  accountId: string | null;
}

/**
 * Records a delivery, or counts one more attempt of an event already recorded, and finds the
 * account of the customer the event names — one round trip (INSERT … ON CONFLICT … RETURNING in
 * a CTE, which Prisma's upsert cannot express); returns where the event stands.
 */
export async function recordDelivery(
  db: RawDb,
  event: Stripe.Event,
  objectId: string | null,
  customerId: string | null,
): Promise<EventLogRow & { customerAccountId: string | null }> {
  const [row] = await db.$queryRaw<(EventLogRow & { customerAccountId: string | null })[]>`
    WITH logged AS (
      INSERT INTO "StripeEventLog" (id, type, "createdAt", "objectId", payload, attempts)
      VALUES (${event.id}, ${event.type}, ${utcTimestamp(new Date(event.created * 1000))}, ${objectId},
              ${JSON.stringify(event)}::jsonb, 1)
      ON CONFLICT (id) DO UPDATE SET attempts = "StripeEventLog".attempts + 1
      RETURNING status::text AS status, outcome, "accountId")
    SELECT logged.*,
           (SELECT id FROM "BillingAccount" WHERE "stripeCustomerId" = ${customerId}) AS "customerAccountId"
    FROM logged`;
  if (!row) throw new Error(`the event log did not return ${event.id}`);
  return row;
}

/**
 * Records the outcome, unless the row has moved on from the `from` statuses (a concurrent copy
 * already recorded one): the condition on the status is what makes the write safe, and a plain
 * UPDATE … WHERE does it without reading the row first. True when this call recorded it.
 */
export async function markDone(
  db: RawDb,
  eventId: string,
  accountId: string | null,
  effect: { status: string; outcome: string },
  from: string[],
): Promise<boolean> {
  const updated = await db.$executeRaw`
    UPDATE "StripeEventLog"
    SET status = ${effect.status}::"StripeEventStatus", outcome = ${effect.outcome},
        "accountId" = ${accountId}, "processedAt" = ${utcTimestamp(new Date())}, error = NULL
    WHERE id = ${eventId} AND status::text IN (${Prisma.join(from)})`;
  return updated === 1;
}

/** A failed attempt (Stripe redelivers it). */
export async function markFailed(db: RawDb, eventId: string, message: string): Promise<void> {
  await db.$executeRaw`
    UPDATE "StripeEventLog" SET status = 'failed', error = ${message.slice(0, 1000)} WHERE id = ${eventId}`;
}

/** A rejected event's row: the reason in `outcome`, the verified bytes kept for a replay. */
export interface Rejection {
  reason: string;
  /** The failure as the code saw it (database only: it may quote the event's values). */
  detail: string;
  rawBody: Buffer | null;
}

// Stored text must not hold what PostgreSQL refuses (NUL) nor what would garble a log line.
const storable = (value: string, max: number) =>
  value
    .replace(/\s+/g, ' ')
    // eslint-disable-next-line no-control-regex -- control characters are what it replaces
    .replace(/[\u0000-\u001f\u007f]/g, '?')
    .trim()
    .slice(0, max);

/**
 * Stores the event as rejected, from any status a delivery or a replay may leave before an
 * outcome (`from`). Off the hot path, but raw SQL like the other writes of this table: the enum
 * cast and the conditional status are one statement.
 */
export async function markRejected(db: RawDb, eventId: string, rejection: Rejection, from: string[]) {
  await db.$executeRaw`
    UPDATE "StripeEventLog"
    SET status = 'rejected'::"StripeEventStatus", outcome = ${storable(rejection.reason, 1000)},
        error = ${storable(rejection.detail, 1000)}, "rawBody" = COALESCE(${rejection.rawBody}, "rawBody"),
        "accountId" = NULL, "processedAt" = ${utcTimestamp(new Date())}
    WHERE id = ${eventId} AND status::text IN (${Prisma.join(from)})`;
}

/**
 * For an event the log cannot even record as it is (JSON PostgreSQL refuses, nesting beyond
 * what can be serialised, a `created` out of range): the row is written rejected, with what can
 * be stored — the id, the type made storable, the time received, a JSON null as payload — and the
 * verified bytes, from which a replay reads the event. A redelivery only counts the attempt.
 */
export async function recordRejectedDelivery(
  db: RawDb,
  event: { id: string; type: string },
  rejection: Rejection,
): Promise<EventLogRow & { inserted: boolean }> {
  const now = utcTimestamp(new Date());
  const [row] = await db.$queryRaw<(EventLogRow & { inserted: boolean })[]>`
    INSERT INTO "StripeEventLog" (id, type, "createdAt", payload, "rawBody", attempts, status, outcome,
                                  error, "processedAt")
    VALUES (${event.id}, ${storable(String(event.type), 200)}, ${now}, 'null'::jsonb, ${rejection.rawBody}, 1,
            'rejected'::"StripeEventStatus", ${storable(rejection.reason, 1000)},
            ${storable(rejection.detail, 1000)}, ${now})
    ON CONFLICT (id) DO UPDATE SET attempts = "StripeEventLog".attempts + 1
    RETURNING status::text AS status, outcome, "accountId", (xmax = 0) AS inserted`;
  if (!row) throw new Error(`the event log did not return ${event.id}`);
  return row;
}
