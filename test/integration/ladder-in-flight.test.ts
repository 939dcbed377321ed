// Admin messages that arrive while a rung is being climbed: the rung's activities are awaited,
// the handlers run in between, and whatever they change must still count once the rung lands.
import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { createActivities } from '../../src/activities/index.js';
import {
  extendGraceUpdate,
  pauseUpdate,
  resumeUpdate,
  statusQuery,
} from '../../src/workflows/definitions.js';
import {
  createTestWorker,
  DAY,
  HOUR,
  MINUTE,
  recordingDeps,
  seedAccount,
  settle,
  failAgain,
  startLadder,
  useTimeSkippingEnv,
  waitForState,
  waitForStatus,
} from './support/harness.js';

const admin = { actor: 'ops@example.test', reason: 'customer called support' };

/** A gate the test opens: the activity it guards waits until then. */
function gate() {
  let open!: () => void;
  let entered!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const reached = new Promise<void>((resolve) => (entered = resolve));
  return { open, opened, reached, entered };
}

/** A worker whose activity `name` waits at a gate before doing its real work. */
async function workerHeldAt(
  env: TestWorkflowEnvironment,
  name: 'markRetained' | 'flagDeletionReview' | 'restoreAccess',
) {
  const activities = createActivities(recordingDeps());
  const held = gate();
  const real = (input: never) => (activities[name] as (input: never) => Promise<unknown>)(input);
  const taskQueue = `tq-${randomUUID()}`;
  const worker = await createTestWorker(env, taskQueue, {
    ...activities,
    [name]: async (input: never) => {
      held.entered();
      await held.opened;
      return real(input);
    },
  });
  /** Runs the worker until `body` is done; the gate opens even when an assertion fails, or the
   * held activity would keep the worker from shutting down. */
  const runUntil = (body: () => Promise<void>) =>
    worker.runUntil(async () => {
      try {
        await body();
      } finally {
        held.open();
      }
    });
  return { runUntil, taskQueue, held };
}

/**
 * Inside `runUntil`: a ladder started on the held worker, once overdue, skipped forward by
 * `skipMs`, and waited for until the held activity has begun. `sleeping` ends the skip.
 */
async function climbUntilHeld(
  env: TestWorkflowEnvironment,
  taskQueue: string,
  held: ReturnType<typeof gate>,
  invoiceId: string,
  accountId: string,
  skipMs: number,
) {
  const handle = await startLadder(env, taskQueue, accountId, invoiceId);
  await waitForState(handle, 'overdue');
  const sleeping = env.sleep(skipMs);
  await held.reached;
  return { handle, sleeping };
}

describe('admin messages during a rung in progress', () => {
  const timeSkipping = useTimeSkippingEnv();
  let env: TestWorkflowEnvironment;
  beforeEach(() => {
    env = timeSkipping();
  });

  it('extendGrace while the ladder is being retained moves the end of retention', async () => {
    const { runUntil, taskQueue, held } = await workerHeldAt(env, 'markRetained');
    const { accountId, invoiceIds } = await seedAccount();
    await runUntil(async () => {
      const { handle, sleeping } = await climbUntilHeld(
        env,
        taskQueue,
        held,
        invoiceIds[0]!,
        accountId,
        14 * DAY + MINUTE,
      );
      // Skipping stops a minute past the rung: well inside the held activity's 2-minute timeout.
      // The ladder is inside its retained rung: the transition activity has not answered yet.
      const before = await handle.query(statusQuery);
      expect(before.state).toBe('suspended');
      const extended = await handle.executeUpdate(extendGraceUpdate, { args: [{ ...admin, hours: 48 }] });
      expect(extended.graceExtendedHours).toBe(48);
      held.open();
      await sleeping;
      const retained = await waitForState(handle, 'retained');
      const overdueSince = Date.parse(retained.overdueSince!);
      const retainedAt = Date.parse(retained.history.find((h) => h.kind === 'retained')!.at);
      // Retention is 30 days from the moment the ladder was retained, plus the 48 h granted.
      expect(Date.parse(retained.retainUntil!) - retainedAt).toBeGreaterThanOrEqual(
        30 * DAY + 48 * HOUR - HOUR,
      );
      expect(retainedAt - overdueSince).toBeLessThan(14 * DAY + MINUTE);
      expect(retained.nextAction).toEqual({ rung: 'deletion_review', at: retained.retainUntil });
    });
  });

  it('pause and resume while the ladder is being retained: the time halted moves the end of retention', async () => {
    const { runUntil, taskQueue, held } = await workerHeldAt(env, 'markRetained');
    const { accountId, invoiceIds } = await seedAccount();
    await runUntil(async () => {
      const { handle, sleeping } = await climbUntilHeld(
        env,
        taskQueue,
        held,
        invoiceIds[0]!,
        accountId,
        14 * DAY + MINUTE,
      );
      const before = await handle.query(statusQuery);
      expect(before.state).toBe('suspended');
      expect(before.retainUntil).not.toBeNull();
      await handle.executeUpdate(pauseUpdate, { args: [admin] });
      // Halted for a minute of workflow time, inside the held activity's 2-minute timeout.
      await env.sleep(MINUTE);
      await handle.executeUpdate(resumeUpdate, { args: [admin] });
      held.open();
      await sleeping;
      const retained = await waitForState(handle, 'retained');
      expect(Date.parse(retained.retainUntil!) - Date.parse(before.retainUntil!)).toBeGreaterThanOrEqual(
        MINUTE,
      );
    });
  });

  it('extendGrace while the deletion review is being flagged is refused, not silently dropped', async () => {
    const { runUntil, taskQueue, held } = await workerHeldAt(env, 'flagDeletionReview');
    const { accountId, invoiceIds } = await seedAccount();
    await runUntil(async () => {
      const { handle, sleeping } = await climbUntilHeld(
        env,
        taskQueue,
        held,
        invoiceIds[0]!,
        accountId,
        44 * DAY + MINUTE,
      );
      const attempt = handle.executeUpdate(extendGraceUpdate, { args: [{ ...admin, hours: 48 }] });
      await expect(attempt).rejects.toThrow();
      held.open();
      await sleeping;
      const due = await waitForStatus(handle, (s) => s.deletionReviewDueAt !== null, 'deletion review');
      expect(due.graceExtendedHours).toBe(0);
      expect(due.history.map((h) => h.kind)).not.toContain('grace_extended');
    });
  });

  it('a payment failing while the ladder restores is not dropped: a fresh ladder starts for it', async () => {
    const { runUntil, taskQueue, held } = await workerHeldAt(env, 'restoreAccess');
    const { accountId, invoiceIds } = await seedAccount({ invoices: [{}, {}] });
    await runUntil(async () => {
      const handle = await startLadder(env, taskQueue, accountId, invoiceIds[0]!);
      await waitForState(handle, 'overdue');
      await settle(handle, invoiceIds[0]!);
      await held.reached;
      // The restore is lifting the suspension when the next invoice fails.
      await failAgain(handle, invoiceIds[1]!);
      held.open();
      const latest = env.client.workflow.getHandle(handle.workflowId);
      const again = await waitForStatus(
        latest,
        (s) => s.state === 'overdue' && s.openInvoices.some((i) => i.invoiceId === invoiceIds[1]),
        'a fresh ladder for the second invoice',
      );
      expect(again.openInvoices.map((i) => i.invoiceId)).toEqual([invoiceIds[1]]);
      expect((await latest.describe()).status.name).toBe('RUNNING');
    });
  });
});
