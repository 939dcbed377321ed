// The webhook's ops alerts, queued as pending Notification rows in the same transaction as the
// event's outcome (its outbox) and handed to Temporal after the commit. A row still pending a
// while later was never handed over (Temporal was unreachable right then) and is queued again.
import { randomUUID } from 'node:crypto';
import { utcTimestamp, type RawDb } from '../../platform/database.js';
import { type OpsAlert } from '../../notifications/ops-alerts.js';

/** Queued once per key: a redelivered event finds its alert already there. */
export async function queueOpsAlert(db: RawDb, alert: OpsAlert): Promise<void> {
  await db.$executeRaw`
    INSERT INTO "Notification" (id, "accountId", channel, template, "idempotencyKey", status, subject, detail)
    VALUES (${randomUUID()}, ${alert.accountId}, 'discord_ops', ${alert.title}, ${alert.key}, 'pending',
            ${alert.title}, ${alert.detail})
    ON CONFLICT ("idempotencyKey") DO NOTHING`;
}

/** Queued alerts still pending, created before `before`: those whose hand-over may have failed. */
export async function pendingOpsAlerts(db: RawDb, before: Date, limit = 100): Promise<OpsAlert[]> {
  return db.$queryRaw<OpsAlert[]>`
    SELECT "accountId", "idempotencyKey" AS key, subject AS title, detail
    FROM "Notification"
    WHERE channel = 'discord_ops' AND status = 'pending' AND detail IS NOT NULL
      AND "createdAt" < ${utcTimestamp(before)}
    ORDER BY "createdAt"
    LIMIT ${limit}`;
}
