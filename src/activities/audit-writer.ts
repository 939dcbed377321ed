// The audit trail the activities write (BillingEnforcementEvent): one row per idempotency key,
// so an activity that runs twice (at-least-once delivery) records once.
import { type Prisma, type PrismaClient } from '../platform/database.js';
import { AccountNotFoundError } from './errors.js';

/** The audit idempotency key of one ladder step: (workflowId, runId, step). */
export const stepKey = (input: { workflowId: string; runId: string; step: string }): string =>
  `${input.workflowId}:${input.runId}:${input.step}`;

/** Writes an audit row once per idempotency key; true when this call wrote it. */
export async function writeEventOnce(
  tx: Prisma.TransactionClient | PrismaClient,
  row: Prisma.BillingEnforcementEventUncheckedCreateInput,
): Promise<boolean> {
  const existing = await tx.billingEnforcementEvent.findUnique({
    where: { idempotencyKey: row.idempotencyKey },
    select: { id: true },
  });
  if (existing) return false;
  await tx.billingEnforcementEvent.create({ data: row });
  return true;
}

export function createAuditHelpers(db: PrismaClient) {
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

    /** The account, or the named permanent failure the workflow does not retry. */
    async requireAccount(accountId: string) {
      const account = await db.billingAccount.findUnique({ where: { id: accountId } });
      if (!account) throw new AccountNotFoundError(accountId);
      return account;
    },
  };
}

export type AuditHelpers = ReturnType<typeof createAuditHelpers>;
