// Moving running ladders onto the policy in force, on purpose: find them through Temporal
// visibility (search attributes), ask each what would change (its policyPreview query: the ladder
// answers with the same code that applies it), and send each the applyPolicy update. Bounded
// concurrency, progress through a callback; the CLI (`billing policy`), the admin API and the
// benchmark share it.
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import {
  applyPolicyUpdate,
  BILLING_STATES,
  DEFAULT_MIN_NOTICE_HOURS,
  policyPreviewQuery,
  statusQuery,
  WORKFLOW_ID_PREFIX,
  type BillingState,
  type EnforcementPolicy,
  type PolicyChange,
} from '../workflows/definitions.js';

export interface RolloutSelection {
  /** Only ladders whose account is in this state. */
  state?: BillingState;
  /** Only this account's ladder. */
  accountId?: string;
}

export interface RolloutOptions extends RolloutSelection {
  client: Client;
  /** The ladders' task queue: only ladders this deployment runs are touched. */
  taskQueue: string;
  /** The policy in force. */
  policy: EnforcementPolicy;
  minNoticeHours?: number;
  /** Ladders asked at once (default 16). */
  concurrency?: number;
  /** Called after each ladder: done so far, and how many were found. */
  onProgress?: (done: number, total: number) => void;
}

/** Account ids are letters, digits and `_.:-` (as the API checks them): nothing that could change a visibility query. */
export const ACCOUNT_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,100}$/;

export class RolloutInputError extends Error {
  override name = 'RolloutInputError';
}

/** The visibility query for the selected running ladders (quoted values are checked first). */
export function rolloutQuery(taskQueue: string, selection: RolloutSelection): string {
  if (selection.state !== undefined && !BILLING_STATES.includes(selection.state))
    throw new RolloutInputError(`unknown state ${selection.state}`);
  if (selection.accountId !== undefined && !ACCOUNT_ID_PATTERN.test(selection.accountId))
    throw new RolloutInputError('an account id is 1 to 100 letters, digits and _.:-');
  if (!/^[A-Za-z0-9_.:-]+$/.test(taskQueue)) throw new RolloutInputError('unexpected task queue name');
  return [
    `WorkflowType = 'billingEnforcementWorkflow'`,
    `ExecutionStatus = 'Running'`,
    `TaskQueue = '${taskQueue}'`,
    ...(selection.state ? [`BillingState = '${selection.state}'`] : []),

    ...(selection.accountId ? [`BillingAccountId = '${selection.accountId}'`] : []),
  ].join(' AND ');
}

/** The workflow ids of the selected running ladders. */
export async function listLadders(options: RolloutOptions): Promise<string[]> {
  const ids: string[] = [];
  const query = rolloutQuery(options.taskQueue, options);
  for await (const execution of options.client.workflow.list({ query })) {
    if (execution.workflowId.startsWith(WORKFLOW_ID_PREFIX)) ids.push(execution.workflowId);
  }
  return ids.sort();
}

const accountOf = (workflowId: string) => workflowId.slice(WORKFLOW_ID_PREFIX.length);

/** Runs `fn` over `items`, at most `concurrency` at a time, in order of the items. */
export async function mapBounded<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, lane));
  return results;
}

export interface Failure {
  accountId: string;
  error: string;
}

/** Why a ladder could not answer or refused, in one line (never a stack). */
function why(error: unknown): string {
  if (error instanceof WorkflowUpdateFailedError) return `refused: ${error.cause?.message ?? error.message}`;
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!.slice(0, 300);
}

export interface RolloutPlan {
  policy: { version: string; dryRun: boolean };
  /** Ladders found running. */
  scanned: number;
  /** Ladders whose version or mode differs, with what would change. */
  changes: PolicyChange[];
  alreadyCurrent: number;
  failed: Failure[];
}

/** What applying the policy in force would change, ladder by ladder. Changes nothing. */
export async function planRollout(options: RolloutOptions): Promise<RolloutPlan> {
  const ids = await listLadders(options);
  let done = 0;
  const at = new Date().toISOString();
  const answers = await mapBounded(ids, options.concurrency ?? 16, async (workflowId) => {
    try {
      return await options.client.workflow.getHandle(workflowId).query(policyPreviewQuery, {
        policy: options.policy,
        minNoticeHours: options.minNoticeHours ?? DEFAULT_MIN_NOTICE_HOURS,
        at,
      });
    } catch (error) {
      return { accountId: accountOf(workflowId), error: why(error) };
    } finally {
      options.onProgress?.(++done, ids.length);
    }
  });
  const changes = answers.filter((a): a is PolicyChange => 'current' in a);
  return {
    policy: { version: options.policy.version, dryRun: options.policy.dryRun },
    scanned: ids.length,
    changes: changes.filter((c) => !c.current),
    alreadyCurrent: changes.filter((c) => c.current).length,
    failed: answers.filter((a): a is Failure => 'error' in a),
  };
}

export interface RolloutResult {
  policy: { version: string; dryRun: boolean };
  scanned: number;
  applied: PolicyChange[];
  alreadyCurrent: number;
  failed: Failure[];
}

/**
 * Sends applyPolicy to every selected ladder not on the policy in force yet. Each ladder
 * validates the update, adopts the policy and writes its audit row; one already on it (or one
 * that adopted it while this ran) answers `already_current` and changes nothing.
 */
export async function applyRollout(
  options: RolloutOptions & { actor: string; reason: string },
): Promise<RolloutResult> {
  const ids = await listLadders(options);
  let done = 0;
  const { policy, actor, reason } = options;
  const minNoticeHours = options.minNoticeHours ?? DEFAULT_MIN_NOTICE_HOURS;
  const answers = await mapBounded(ids, options.concurrency ?? 16, async (workflowId) => {
    const handle = options.client.workflow.getHandle(workflowId);
    try {
      // A ladder already current is not sent the update at all: its history stays as it was.
      const status = await handle.query(statusQuery);
      if (status.policyVersion === policy.version && status.dryRun === policy.dryRun)
        return 'current' as const;
      const result = await handle.executeUpdate(applyPolicyUpdate, {
        args: [{ actor, reason, policy, minNoticeHours }],
      });
      return result.outcome === 'applied' ? result.change : ('current' as const);
    } catch (error) {
      return { accountId: accountOf(workflowId), error: why(error) };
    } finally {
      options.onProgress?.(++done, ids.length);
    }
  });
  return {
    policy: { version: policy.version, dryRun: policy.dryRun },
    scanned: ids.length,
    applied: answers.filter((a): a is PolicyChange => typeof a === 'object' && 'current' in a),
    alreadyCurrent: answers.filter((a) => a === 'current').length,
    failed: answers.filter((a): a is Failure => typeof a === 'object' && 'error' in a),
  };
}
