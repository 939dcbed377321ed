// The audit trail the activities write (BillingEnforcementEvent): one row per idempotency key,
// so an activity that runs twice (at-least-once delivery) records once.
import { randomUUID } from 'node:crypto';
import { driverPool, sqlOn, utcTimestamp, type Prisma, type PrismaClient } from '../platform/database.js';
import { AccountNotFoundError } from './errors.js';

/** The audit idempotency key of one ladder step: (workflowId, runId, step). */
export const stepKey = (input: { workflowId: string; runId: string; step: string }): string =>
  `${input.workflowId}:${input.runId}:${input.step}`;

/**
 * Writes an audit row once per idempotency key; true when this call wrote it. One raw statement
 * (insert, or nothing when the key is there) rather than a model read and a model create: every
 * step of every ladder writes one, and each Prisma model query costs the worker about 1 ms of CPU.
 * A concurrent writer of the same key makes this wait for its commit, then write nothing.
 */
export async function writeEventOnce(
  tx: Prisma.TransactionClient | PrismaClient,
  row: Prisma.BillingEnforcementEventUncheckedCreateInput,
): Promise<boolean> {
  const occurredAt = row.occurredAt === undefined ? new Date() : new Date(row.occurredAt);
  const detail = row.detail === undefined || row.detail === null ? null : JSON.stringify(row.detail);
  const written = await tx.$executeRaw`
    INSERT INTO "BillingEnforcementEvent"
      (id, "accountId", kind, step, actor, reason, "dryRun", detail, "idempotencyKey", "workflowId",
       "runId", "occurredAt", "createdAt")
    VALUES (${row.id ?? randomUUID()}, ${row.accountId}, ${row.kind}, ${row.step ?? null}, ${row.actor},
            ${row.reason ?? null}, ${row.dryRun ?? false}, ${detail}::jsonb, ${row.idempotencyKey},
            ${row.workflowId ?? null}, ${row.runId ?? null}, ${utcTimestamp(occurredAt)},
            ${utcTimestamp(new Date())})
    ON CONFLICT ("idempotencyKey") DO NOTHING`;
  return written === 1;
}

export function createAuditHelpers(db: PrismaClient) {
  // Statements outside a transaction go straight to node-postgres where they are hot: a tenth of
  // the CPU of the same statement through Prisma's client.
  const raw = sqlOn(driverPool(db));
  return {
    /** Dry-run and exempt accounts: record what would have been done, once. */
    async recordWouldDo(
      input: { accountId: string; workflowId: string; runId: string; at: string },
      kind: string,
      idempotencyKey: string,
      extra: { step?: string; detail?: Prisma.InputJsonValue } = {},
    ) {
      await writeEventOnce(db, {
        accountId: input.accountId,
        kind,
        actor: 'workflow',
        dryRun: true,
        idempotencyKey: `${idempotencyKey}:dry-run`,
        workflowId: input.workflowId,
        runId: input.runId,
        occurredAt: new Date(input.at),
        ...extra,
      });
    },

    /**
     * The account's enforcement flags, or the named permanent failure the workflow does not
     * retry. Every step of the ladder asks this first.
     */
    async requireAccountFlags(accountId: string): Promise<{ exempt: boolean; disputed: boolean }> {
      const [flags] = await raw.$queryRaw<{ exempt: boolean; disputed: boolean }[]>`
        SELECT "enforcementExempt" AS exempt, disputed FROM "BillingAccount" WHERE id = ${accountId}`;
      if (!flags) throw new AccountNotFoundError(accountId);
      return flags;
    },

    /** The account, or the named permanent failure the workflow does not retry. */
    async requireAccount(accountId: string) {
      const account = await db.billingAccount.findUnique({ where: { id: accountId } });
      if (!account) throw new AccountNotFoundError(accountId);
      return account;
    },
  };
}

export type AuditHelpers = ReturnType<typeof createAuditHelpers>;
