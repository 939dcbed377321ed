// BillingAccount, as the webhook (and the reconciliation, which applies the same effects) reads
// and locks it.
import { utcTimestamp, type RawDb } from '../../platform/database.js';

/**
 * The account a Stripe customer belongs to. Raw SQL: every event that names a customer looks it
 * up, on the webhook's hot path, where a raw statement costs about a quarter of the CPU of
 * Prisma's model query (measured: 0.55 vs 2.2 ms per query).
 */
export async function accountIdForCustomer(db: RawDb, customerId: string): Promise<string | null> {
  const [account] = await db.$queryRaw<{ id: string }[]>`
    SELECT id FROM "BillingAccount" WHERE "stripeCustomerId" = ${customerId}`;
  return account?.id ?? null;
}

/**
 * Serialises everything Stripe changes about one account until the transaction ends: deliveries
 * for one account queue behind each other, and the reconciliation takes the same lock. Raw SQL
 * because an advisory lock is a function call, which Prisma has no model query for.
 */
/** The lock statement, for a caller that sends it in a batch of its own (one round trip). */
export const LOCK_STRIPE_ACCOUNT_SQL = (literal: (value: string) => string, accountId: string) =>
  `SELECT pg_advisory_xact_lock(hashtext(${literal(`stripe-account:${accountId}`)}))`;

export async function lockStripeAccount(tx: RawDb, accountId: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`stripe-account:${accountId}`}))`;
}

/** The subscription status, unless a newer subscription event was applied already; true when written. */
export async function saveSubscriptionStatus(
  tx: RawDb,
  accountId: string,
  status: string,
  eventCreated: Date,
): Promise<boolean> {
  const at = utcTimestamp(eventCreated);
  const updated = await tx.$executeRaw`
    UPDATE "BillingAccount"
    SET "subscriptionStatus" = ${status}, "subscriptionEventAt" = ${at}, "updatedAt" = ${utcTimestamp(new Date())}
    WHERE id = ${accountId} AND ("subscriptionEventAt" IS NULL OR "subscriptionEventAt" <= ${at})`;
  return updated === 1;
}

/** Flags the account disputed. */
export async function markDisputed(tx: RawDb, accountId: string): Promise<void> {
  await tx.$executeRaw`
    UPDATE "BillingAccount" SET disputed = true, "updatedAt" = ${utcTimestamp(new Date())} WHERE id = ${accountId}`;
}

/**
 * A dispute open on an account no ladder holds (its `disputed` flag while `active`: the dispute
 * came when no ladder ran), as its last dispute event names it. A running ladder was told of its
 * dispute when it came, and an admin's resume since must stand: those are not read here.
 */
export interface OpenDispute {
  /** Null only when the event log no longer has the dispute's event. */
  disputeId: string | null;
  eventId: string | null;
  at: Date | null;
}

/** The statement openDispute sends, for a caller that reads it in a batch of its own. */
export const OPEN_DISPUTE_SQL = (literal: (value: string) => string, accountId: string) => `
  SELECT e."objectId" AS "disputeId", e.id AS "eventId", e."createdAt" AS at
  FROM "BillingAccount" a
  LEFT JOIN LATERAL (
    SELECT id, "objectId", "createdAt" FROM "StripeEventLog"
    WHERE "accountId" = a.id AND type = 'charge.dispute.created' AND status = 'processed'
    ORDER BY "receivedAt" DESC, id DESC LIMIT 1
  ) e ON true
  WHERE a.id = ${literal(accountId)} AND a.disputed AND a.state = 'active'`;

/** A transaction that already read the account's open dispute (in its first round trip) carries it. */
export type WithOpenDispute = RawDb & { openDispute?: OpenDispute | null };

/** The dispute open on an account no ladder holds, or null. */
export async function openDispute(tx: WithOpenDispute, accountId: string): Promise<OpenDispute | null> {
  if (tx.openDispute !== undefined) return tx.openDispute;
  const rows = await tx.$queryRaw<OpenDispute[]>`
    SELECT e."objectId" AS "disputeId", e.id AS "eventId", e."createdAt" AS at
    FROM "BillingAccount" a
    LEFT JOIN LATERAL (
      SELECT id, "objectId", "createdAt" FROM "StripeEventLog"
      WHERE "accountId" = a.id AND type = 'charge.dispute.created' AND status = 'processed'
      ORDER BY "receivedAt" DESC, id DESC LIMIT 1
    ) e ON true
    WHERE a.id = ${accountId} AND a.disputed AND a.state = 'active'`;
  return rows[0] ?? null;
}
