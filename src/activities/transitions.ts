// The account's place on the ladder, as the database records it, and the audit trail of each
// step. Every write is keyed by (workflowId, runId, step): a retried activity finds its audit
// row and applies nothing.
import { type BillingState } from '../workflows/definitions.js';
import { type Prisma, type PrismaClient } from '../platform/database.js';
import { type Logger } from '../platform/logger.js';
import { ladderTransitions } from '../platform/observability/metrics.js';
import { stepKey, writeEventOnce, type AuditHelpers } from './audit-writer.js';
import { type Enforcing } from './enforcing.js';
import { allowedFrom, stateColumns } from '../workflows/ladder.js';
import { type RestoreReason } from '../workflows/account-rules.js';

export interface TransitionInput {
  accountId: string;
  workflowId: string;
  runId: string;
  /** Unique within the run, e.g. "3:final_warning". */
  step: string;
  to: BillingState;
  /** Workflow time of the transition (ISO). */
  at: string;
  dryRun: boolean;
  actor?: string;
  reason?: string;
  detail?: Record<string, unknown>;
  retainUntil?: string;
  /** The ladder's policy (absent from ladders scheduled before it was sent): written to the row. */
  policy?: { version: string; dryRun: boolean };
  /** Why a restore (to `active`) happens; absent from ladders scheduled before it was sent. */
  restore?: { reason: RestoreReason; actor: string | null; note: string | null };
}

/** The account columns a restore writes about itself: the last restore, history not state. */
function restoreColumns(input: TransitionInput) {
  if (input.to !== 'active') return {};
  return {
    restoreReason: input.restore?.reason ?? 'settled',
    restoredBy: input.restore?.actor ?? null,
    restoreNote: input.restore?.note ?? null,
  };
}

export interface AuditInput {
  accountId: string;
  workflowId: string;
  runId: string;
  step: string;
  kind: string;
  at: string;
  actor: string;
  reason?: string;
  dryRun?: boolean;
  detail?: Record<string, unknown>;
}

export interface PolicyAdoptionInput extends AuditInput {
  /** The policy the ladder ran before, and the one it adopted. */
  from: { version: string; dryRun: boolean };
  policy: { version: string; dryRun: boolean };
}

// Which states a transition may leave from (a row in another state is left as it is, and the
// mismatch logged) and which account columns each state sets both come from the ladder's table
// (src/workflows/ladder.ts): allowedFrom and stateColumns.

// ------------------------------------------------------------------------------------------------

/** Counts a transition once: a retried activity finds its audit row and applies nothing. */
const countTransition =
  (rung: string, dryRun: boolean) =>
  (result: { applied: boolean }): { applied: boolean } => {
    if (result.applied) ladderTransitions.inc({ rung, dry_run: String(dryRun) });
    return result;
  };

/**
 * The state a dry-run transition leaves in force for real: the one the ladder stood at when it
 * last ran in enforce (the brake was applied since, perhaps while that rung was mid-flight and
 * its transition wrote the enforce mode after the switch). Null: nothing to add.
 */
async function stillInForce(tx: Prisma.TransactionClient, input: TransitionInput) {
  if (input.to === 'active' || !input.dryRun || !input.policy?.dryRun) return null;
  const row = await tx.billingAccount.findUnique({
    where: { id: input.accountId },
    select: { state: true, enforcedState: true, policyDryRun: true },
  });
  if (!row || row.state === 'active' || row.enforcedState !== null || row.policyDryRun !== false) return null;
  return row.state;
}

export function transitionActivities(
  deps: { db: PrismaClient; logger: Logger },
  shared: { audit: AuditHelpers; enforcing: Enforcing },
) {
  const { db, logger } = deps;
  const { audit, enforcing } = shared;

  async function applyTransition(input: TransitionInput, kind: string): Promise<{ applied: boolean }> {
    await audit.requireAccount(input.accountId);
    const at = new Date(input.at);
    const idempotencyKey = stepKey(input);
    return db.$transaction(async (tx) => {
      const wrote = await writeEventOnce(tx, {
        accountId: input.accountId,
        kind,
        step: input.step,
        actor: input.actor ?? 'workflow',
        reason: input.reason ?? null,
        dryRun: input.dryRun,
        detail: (input.restore
          ? { ...input.detail, restore: input.restore }
          : (input.detail ?? {})) as Prisma.InputJsonValue,
        idempotencyKey,
        workflowId: input.workflowId,
        runId: input.runId,
        occurredAt: at,
      });
      if (!wrote) return { applied: false };
      const inForce = await stillInForce(tx, input);
      const from = allowedFrom(input.to);
      const updated = await tx.billingAccount.updateMany({
        where: { id: input.accountId, ...(from === 'any' ? {} : { state: { in: from } }) },
        data: {
          state: input.to,
          // A real transition (or any restore) puts the state back in force; a dry-run one after
          // the brake leaves the rung that was enforced for real as it is.
          ...(input.to === 'active' || !input.dryRun
            ? { enforcedState: null }
            : inForce
              ? { enforcedState: inForce }
              : {}),
          workflowId: input.workflowId,
          ...(input.policy ? { policyVersion: input.policy.version, policyDryRun: input.policy.dryRun } : {}),
          ...stateColumns(input.to, at, input.retainUntil),
          ...restoreColumns(input),
        },
      });
      if (updated.count === 0) {
        logger.warn(
          { accountId: input.accountId, to: input.to, step: input.step },
          'account was not in an expected state for this transition',
        );
      }
      return { applied: true };
    });
  }

  /**
   * A rung landed for real where the ladder already stands (after a switch from dry-run to
   * enforce): the state stays, the rung enforced for real moves up to it, with its audit row.
   */
  async function applyRealRung(input: TransitionInput): Promise<{ applied: boolean }> {
    await audit.requireAccount(input.accountId);
    return db.$transaction(async (tx) => {
      const wrote = await writeEventOnce(tx, {
        accountId: input.accountId,
        kind: `transition_for_real:${input.to}`,
        step: input.step,
        actor: 'workflow',
        reason: input.reason ?? null,
        dryRun: input.dryRun,
        detail: (input.detail ?? {}) as Prisma.InputJsonValue,
        idempotencyKey: stepKey(input),
        workflowId: input.workflowId,
        runId: input.runId,
        occurredAt: new Date(input.at),
      });
      if (!wrote) return { applied: false };
      await tx.billingAccount.updateMany({
        where: { id: input.accountId, state: { not: 'active' } },
        data: {
          enforcedState: input.to,
          ...(input.policy ? { policyVersion: input.policy.version, policyDryRun: input.policy.dryRun } : {}),
        },
      });
      return { applied: true };
    });
  }

  /**
   * A ladder adopted a policy (applyPolicy): its audit row, and the account row takes the new
   * version and mode at once, so the gates follow the switch rather than the next transition. To
   * enforce, nothing is in force for real until the owed rungs land (the first lands at once);
   * the brake keeps what was in force as it is.
   */
  async function applyPolicyAdoption(input: PolicyAdoptionInput): Promise<{ applied: boolean }> {
    await audit.requireAccount(input.accountId);
    return db.$transaction(async (tx) => {
      const wrote = await writeEventOnce(tx, {
        accountId: input.accountId,
        kind: 'admin_apply_policy',
        step: input.step,
        actor: input.actor,
        reason: input.reason ?? null,
        dryRun: input.dryRun ?? false,
        detail: (input.detail ?? {}) as Prisma.InputJsonValue,
        idempotencyKey: stepKey(input),
        workflowId: input.workflowId,
        runId: input.runId,
        occurredAt: new Date(input.at),
      });
      if (!wrote) return { applied: false };
      const row = await tx.billingAccount.findUniqueOrThrow({
        where: { id: input.accountId },
        select: { state: true, enforcedState: true },
      });
      const switched = input.from.dryRun !== input.policy.dryRun;
      const inForce = !switched
        ? row.enforcedState
        : input.policy.dryRun
          ? (row.enforcedState ?? row.state)
          : (row.enforcedState ?? 'active');
      await tx.billingAccount.update({
        where: { id: input.accountId },
        data: {
          policyVersion: input.policy.version,
          policyDryRun: input.policy.dryRun,
          ...(row.state === 'active' ? {} : { enforcedState: inForce }),
        },
      });
      return { applied: true };
    });
  }

  return {
    async recordRealRung(input: TransitionInput): Promise<{ applied: boolean }> {
      return enforcing('record a rung landed for real', input, stepKey(input), () =>
        applyRealRung(input),
      ).then(countTransition(`${input.to}_for_real`, input.dryRun));
    },

    async recordPolicyAdoption(input: PolicyAdoptionInput): Promise<{ applied: boolean }> {
      return applyPolicyAdoption(input);
    },

    async loadAccountFlags(input: { accountId: string }): Promise<{ exempt: boolean; disputed: boolean }> {
      const account = await audit.requireAccount(input.accountId);
      return { exempt: account.enforcementExempt, disputed: account.disputed };
    },

    async recordTransition(input: TransitionInput): Promise<{ applied: boolean }> {
      return enforcing('record transition', input, stepKey(input), () =>
        applyTransition(input, `transition:${input.to}`),
      ).then(countTransition(input.to, input.dryRun));
    },

    async markRetained(input: TransitionInput & { retainUntil: string }): Promise<{ applied: boolean }> {
      return enforcing('mark retained', input, stepKey(input), () =>
        applyTransition({ ...input, to: 'retained' }, 'transition:retained'),
      ).then(countTransition('retained', input.dryRun));
    },

    async flagDeletionReview(input: AuditInput & { dueAt: string }): Promise<{ applied: boolean }> {
      return enforcing('flag deletion review', input, stepKey(input), async () => {
        await audit.requireAccount(input.accountId);
        return db.$transaction(async (tx) => {
          const wrote = await writeEventOnce(tx, {
            accountId: input.accountId,
            kind: 'deletion_review_due',
            step: input.step,
            actor: 'workflow',
            dryRun: input.dryRun ?? false,
            detail: {
              dueAt: input.dueAt,
              note: 'Eligible for deletion review. Nothing is deleted automatically.',
            },
            idempotencyKey: stepKey(input),
            workflowId: input.workflowId,
            runId: input.runId,
            occurredAt: new Date(input.at),
          });
          if (wrote) {
            await tx.billingAccount.updateMany({
              where: { id: input.accountId, state: 'retained' },
              data: { deletionReviewDueAt: new Date(input.dueAt) },
            });
          }
          return { applied: wrote };
        });
      }).then(countTransition('deletion_review_due', input.dryRun ?? false));
    },

    async recordAudit(input: AuditInput): Promise<{ applied: boolean }> {
      await audit.requireAccount(input.accountId);
      const applied = await writeEventOnce(db, {
        accountId: input.accountId,
        kind: input.kind,
        step: input.step,
        actor: input.actor,
        reason: input.reason ?? null,
        dryRun: input.dryRun ?? false,
        detail: (input.detail ?? {}) as Prisma.InputJsonValue,
        idempotencyKey: stepKey(input),
        workflowId: input.workflowId,
        runId: input.runId,
        occurredAt: new Date(input.at),
      });
      return { applied };
    },
  };
}
