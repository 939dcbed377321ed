import { type Db } from '../platform/database.js';

/** The latest `limit` audit events of an account (BillingEnforcementEvent), oldest first. */
export async function auditTrail(db: Db, accountId: string, limit: number) {
  const events = await db.billingEnforcementEvent.findMany({
    where: { accountId },
    orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
    take: limit,
    select: {
      id: true,
      kind: true,
      step: true,
      actor: true,
      reason: true,
      dryRun: true,
      detail: true,
      occurredAt: true,
      createdAt: true,
    },
  });
  return events.reverse();
}
