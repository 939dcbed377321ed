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

/** The ladder's policy and mode, on the account row (absent from ladders scheduled before it). */
const policyColumns = (policy: TransitionInput['policy']) =>
  policy ? { policyVersion: policy.version, policyDryRun: policy.dryRun } : {};

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

/** A step's audit row as the ladder's activities write it, keyed by (workflowId, runId, step). */
interface StepRow {
  accountId: string;
  workflowId: string;
  runId: string;
  step: string;
  at: string;
  kind: string;
  actor: string;
  reason?: string | null;
  dryRun?: boolean;
  detail?: Record<string, unknown>;
}

const eventOf = (row: StepRow): Prisma.BillingEnforcementEventUncheckedCreateInput => ({
  accountId: row.accountId,
  kind: row.kind,
  step: row.step,
  actor: row.actor,
  reason: row.reason ?? null,
  dryRun: row.dryRun ?? false,
  detail: (row.detail ?? {}) as Prisma.InputJsonValue,
  idempotencyKey: stepKey(row),
  workflowId: row.workflowId,
  runId: row.runId,
  occurredAt: new Date(row.at),
});

export function transitionActivities(
  deps: { db: PrismaClient; logger: Logger },
  shared: { audit: AuditHelpers; enforcing: Enforcing },
) {
  const { db, logger } = deps;
  const { audit, enforcing } = shared;

  /**
   * A step's audit row and its change to the account, in one transaction: a retried activity
   * finds the row and changes nothing.
   */
  async function onceWithAudit(
    row: StepRow,
    change: (tx: Prisma.TransactionClient) => Promise<void>,
  ): Promise<{ applied: boolean }> {
    await audit.requireAccountFlags(row.accountId);
    return db.$transaction(async (tx) => {
      if (!(await writeEventOnce(tx, eventOf(row)))) return { applied: false };
      await change(tx);
      return { applied: true };
    });
  }

  function applyTransition(input: TransitionInput, kind: string): Promise<{ applied: boolean }> {
    const at = new Date(input.at);
    const detail = input.restore ? { ...input.detail, restore: input.restore } : input.detail;
    return onceWithAudit(
      { ...input, kind, actor: input.actor ?? 'workflow', ...(detail ? { detail } : {}) },
      async (tx) => {
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
            ...policyColumns(input.policy),
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
      },
    );
  }

  /**
   * A rung landed for real where the ladder already stands (after a switch from dry-run to
   * enforce): the state stays, the rung enforced for real moves up to it, with its audit row.
   */
  function applyRealRung(input: TransitionInput): Promise<{ applied: boolean }> {
    return onceWithAudit(
      { ...input, kind: `transition_for_real:${input.to}`, actor: 'workflow' },
      async (tx) => {
        await tx.billingAccount.updateMany({
          where: { id: input.accountId, state: { not: 'active' } },
          data: { enforcedState: input.to, ...policyColumns(input.policy) },
        });
      },
    );
  }

  /**
   * A ladder adopted a policy (applyPolicy): its audit row, and the account row takes the new
   * version and mode at once, so the gates follow the switch rather than the next transition. To
   * enforce, nothing is in force for real until the owed rungs land (the first lands at once);
   * the brake keeps what was in force as it is.
   */
  function applyPolicyAdoption(input: PolicyAdoptionInput): Promise<{ applied: boolean }> {
    return onceWithAudit({ ...input, kind: 'admin_apply_policy' }, async (tx) => {
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
          ...policyColumns(input.policy),
          ...(row.state === 'active' ? {} : { enforcedState: inForce }),
        },
      });
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
      return audit.requireAccountFlags(input.accountId);
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
      return enforcing('flag deletion review', input, stepKey(input), () =>
        onceWithAudit(
          {
            ...input,
            kind: 'deletion_review_due',
            actor: 'workflow',
            reason: null,
            detail: {
              dueAt: input.dueAt,
              note: 'Eligible for deletion review. Nothing is deleted automatically.',
            },
          },
          async (tx) => {
            await tx.billingAccount.updateMany({
              where: { id: input.accountId, state: 'retained' },
              data: { deletionReviewDueAt: new Date(input.dueAt) },
            });
          },
        ),
      ).then(countTransition('deletion_review_due', input.dryRun ?? false));
    },

    async recordAudit(input: AuditInput): Promise<{ applied: boolean }> {
      await audit.requireAccountFlags(input.accountId);
      return { applied: await writeEventOnce(db, eventOf(input)) };
    },
  };
}
