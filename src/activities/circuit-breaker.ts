// The suspension circuit breaker's input: how many accounts were suspended recently, and a slot
// for this one if the count is under the threshold.
import { type PrismaClient } from '../platform/database.js';
import { stepKey } from './audit-writer.js';

export function circuitBreakerActivities(deps: { db: PrismaClient }) {
  const { db } = deps;

  return {
    /**
     * Circuit breaker input, taken atomically: an advisory lock serialises the count and the
     * claim across every workflow, so a storm of suspensions cannot all slip under the threshold.
     * A slot already claimed by this step is granted again (retries are idempotent).
     */
    async claimSuspensionSlot(input: {
      accountId: string;
      workflowId: string;
      runId: string;
      step: string;
      at: string;
      threshold: number;
      windowMs: number;
      dryRun: boolean;
      bypass: boolean;
    }): Promise<{ granted: boolean; recentSuspensions: number }> {
      const idempotencyKey = stepKey(input);
      const at = new Date(input.at);
      return db.$transaction(async (tx) => {
        // 7240001: any constant every worker shares; changing it while old workers run would let
        // both claim at once.
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(7240001)`;
        const recent = await tx.billingEnforcementEvent.count({
          where: {
            kind: 'suspension_slot',
            dryRun: input.dryRun,
            occurredAt: { gt: new Date(at.getTime() - input.windowMs) },
          },
        });
        const mine = await tx.billingEnforcementEvent.findUnique({
          where: { idempotencyKey },
          select: { id: true },
        });
        if (mine) return { granted: true, recentSuspensions: recent };
        if (recent >= input.threshold && !input.bypass) return { granted: false, recentSuspensions: recent };
        await tx.billingEnforcementEvent.create({
          data: {
            accountId: input.accountId,
            kind: 'suspension_slot',
            step: input.step,
            actor: 'workflow',
            dryRun: input.dryRun,
            detail: { recentSuspensions: recent, threshold: input.threshold, bypass: input.bypass },
            idempotencyKey,
            workflowId: input.workflowId,
            runId: input.runId,
            occurredAt: at,
          },
        });
        return { granted: true, recentSuspensions: recent + 1 };
      });
    },
  };
}
