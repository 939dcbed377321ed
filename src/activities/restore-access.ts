// A restore in one activity: what the customer waits for after paying (the state back to active,
// backups unblocked, the suspension lifted and the servers started) as one task instead of four.
// Each part is the ladder's own activity, called in place, so each keeps its idempotency key and
// its "keeps failing" alert; a retry after a crash re-runs them all and each finds what it already
// did. One task instead of four (and one workflow task instead of four) is what lets a worker keep
// up with a herd of payments (docs/benchmarks.md, "Paid → back online").
import { restoreLifts } from '../workflows/ladder.js';
import { type serverActivities } from './servers.js';
import { type TransitionInput, type transitionActivities } from './transitions.js';

export interface RestoreAccessInput {
  accountId: string;
  workflowId: string;
  runId: string;
  /** The restore's step: the transition's audit key and the servers' heartbeat key. */
  step: string;
  at: string;
  /** The backups lift's idempotency key (the ladder's `${ladderKey}:${step}:backups`). */
  backupsKey: string;
  /** Start the servers that were running before the suspension. */
  restart: boolean;
  /** The transition to active, as the ladder writes it; its dry-run is decided here. */
  transition: Omit<TransitionInput, 'dryRun' | 'policy'> & { policy: NonNullable<TransitionInput['policy']> };
}

export interface RestoreAccessResult {
  /** Whether the transition was a dry run: the policy's mode, or an account exempt from enforcement. */
  dryRun: boolean;
  /** What was lifted, in the ladder's restore order. */
  actions: string[];
}

type Parts = Pick<
  ReturnType<typeof transitionActivities> & ReturnType<typeof serverActivities>,
  'loadAccountFlags' | 'recordTransition' | 'setBackupsBlocked' | 'restoreServers'
>;

export function restoreAccessActivity(parts: Parts) {
  return {
    async restoreAccess(input: RestoreAccessInput): Promise<RestoreAccessResult> {
      const { accountId, workflowId, runId, step, at } = input;
      // The flags decide only whether the transition is a dry run; lifting is never harmful, so
      // the lifts go ahead at once, dry-run or not (an account made exempt mid-ladder).
      const transitioned = (async () => {
        const dryRun = input.transition.policy.dryRun || (await parts.loadAccountFlags({ accountId })).exempt;
        await parts.recordTransition({ ...input.transition, dryRun });
        return dryRun;
      })();
      const lift = async (what: 'backups' | 'servers') => {
        if (what === 'backups') {
          await parts.setBackupsBlocked({
            accountId,
            blocked: false,
            dryRun: false,
            idempotencyKey: input.backupsKey,
            at,
            workflowId,
            runId,
          });
          return 'backups unblocked';
        }
        const servers = await parts.restoreServers({
          accountId,
          restart: input.restart,
          dryRun: false,
          workflowId,
          runId,
          step,
        });
        return `servers started [${servers.started.join(', ')}]`;
      };
      const [dryRun, actions] = await Promise.all([transitioned, Promise.all(restoreLifts().map(lift))]);
      return { dryRun, actions };
    },
  };
}
