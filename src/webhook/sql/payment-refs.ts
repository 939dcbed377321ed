// StripePaymentRef: which customer (or invoice) a charge or payment intent belongs to, kept from
// the events that say so, because a dispute names only its charge and payment intent. Raw SQL:
// charge.succeeded and payment_intent.succeeded come with every payment, a busy path.
import { Prisma, type RawDb } from '../../platform/database.js';

export interface PaymentRef {
  /** ch_… or pi_… */
  id: string;
  customerId: string | null;
  invoiceId: string | null;
}

/** Stores the refs; what an earlier event knew is kept where this one does not say. */
export async function savePaymentRefs(db: RawDb, refs: readonly PaymentRef[]): Promise<void> {
  if (refs.length === 0) return;
  const rows = refs.map((r) => Prisma.sql`(${r.id}, ${r.customerId}, ${r.invoiceId})`);
  await db.$executeRaw`
    INSERT INTO "StripePaymentRef" (id, "customerId", "invoiceId")
    VALUES ${Prisma.join(rows)}
    ON CONFLICT (id) DO UPDATE SET
      "customerId" = COALESCE(EXCLUDED."customerId", "StripePaymentRef"."customerId"),
      "invoiceId" = COALESCE(EXCLUDED."invoiceId", "StripePaymentRef"."invoiceId")`;
}

/**
 * The account a charge or payment intent was paid by, from the refs stored so far: through the
 * customer it named, or the invoice it paid (an invoice the webhook has seen has its account).
 */
export async function accountForPayment(db: RawDb, ids: readonly string[]): Promise<string | null> {
  if (ids.length === 0) return null;
  const [row] = await db.$queryRaw<{ id: string }[]>`
    SELECT b.id FROM "StripePaymentRef" r
    LEFT JOIN "Invoice" i ON i.id = r."invoiceId"
    JOIN "BillingAccount" b ON b."stripeCustomerId" = r."customerId" OR b.id = i."accountId"
    WHERE r.id IN (${Prisma.join(ids)})
    LIMIT 1`;
  return row?.id ?? null;
}

/** Disputes kept unresolved that name one of these charges or payment intents (their payloads). */
export async function unresolvedDisputesFor(db: RawDb, ids: readonly string[]): Promise<unknown[]> {
  if (ids.length === 0) return [];
  const rows = await db.$queryRaw<{ payload: unknown }[]>`
    SELECT payload FROM "StripeEventLog"
    WHERE status = 'unresolved' AND type = 'charge.dispute.created'
      AND (payload #>> '{data,object,charge}' IN (${Prisma.join(ids)})
           OR payload #>> '{data,object,payment_intent}' IN (${Prisma.join(ids)}))`;
  return rows.map((r) => r.payload);
}
