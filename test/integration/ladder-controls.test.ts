import { beforeEach, describe, expect, it } from 'vitest';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import {
  approveDeletionReviewUpdate,
  disputeOpenedSignal,
  extendGraceUpdate,
  forceRestoreUpdate,
  pauseUpdate,
  releaseSuspensionHoldUpdate,
  resumeUpdate,
  statusQuery,
} from '../../src/workflows/definitions.js';
import {
  DAY,
  db,
  ownerDb,
  eventsOf,
  failAgain,
  HOUR,
  MINUTE,
  notificationsOf,
  recordingDeps,
  seedAccount,
  startLadder,
  startWorker,
  recordHistory,
  useTimeSkippingEnv,
  testPolicy,
  waitForState,
  waitForStatus,
} from './support/harness.js';

const admin = { actor: 'ops@example.test', reason: 'customer called support' };

describe('dry-run, exemptions, circuit breaker, disputes, admin updates, continue-as-new', () => {
  const timeSkipping = useTimeSkippingEnv();
  let env: TestWorkflowEnvironment;
  beforeEach(() => {
    env = timeSkipping();
  });

  for (const variant of ['dry-run mode', 'exempt account'] as const) {
    it(`${variant}: no customer email, no backup block, no server stopped; would-be actions recorded`, async () => {
      const deps = recordingDeps();
      const { worker, taskQueue } = await startWorker(env, deps);
      const { accountId, invoiceIds } = await seedAccount({
        exempt: variant === 'exempt account',
        servers: ['running'],
      });
      const policy = testPolicy({ dryRun: variant === 'dry-run mode' });
      await worker.runUntil(async () => {
        const handle = await startLadder(env, taskQueue, accountId, invoiceIds[0]!, policy);
        await waitForState(handle, 'overdue');
        await env.sleep(15 * DAY);
        await waitForState(handle, 'retained');
      });
      expect(deps.email.sent).toHaveLength(0);
      expect(deps.servers.calls).toHaveLength(0);
      const account = await db().billingAccount.findUniqueOrThrow({
        where: { id: accountId },
        include: { servers: { orderBy: { vmid: 'asc' } } },
      });
      expect(account.state).toBe('retained'); // gates answer "allowed, would have been …" from this
      expect(account.backupsBlocked).toBe(false);
      expect(account.servers[0]).toMatchObject({ powerState: 'running', billingSuspended: false });
      const kinds = (await eventsOf(accountId)).map((e) => e.kind);
      expect(kinds).toEqual(
        expect.arrayContaining(['would_send_email', 'would_block_backups', 'would_suspend_servers']),
      );
      expect((await notificationsOf(accountId)).filter((n) => n.channel === 'email')).toHaveLength(0);
      // Operators still see the ladder in Discord.
      expect(deps.chat.posted.map((p) => p.message.title)).toEqual(
        expect.arrayContaining([expect.stringMatching(/^\[dry-run\] Suspended/)]),
      );
    });
  }

  it('circuit breaker: over the threshold the suspension holds and ops is alerted; releaseSuspensionHold continues it', async () => {
    // The audit trail is append-only for the app: clearing it is the owner's.
    await ownerDb().billingEnforcementEvent.deleteMany({ where: { kind: 'suspension_slot' } });
    const deps = recordingDeps();
    const { worker, taskQueue } = await startWorker(env, deps);
    // A day-long window, so the hold cannot clear by itself while the test skips time.
    const policy = testPolicy({ suspensionBreaker: { threshold: 1, windowMs: DAY } });
    const a = await seedAccount({ servers: ['running'] });
    const b = await seedAccount({ servers: ['running'] });
    await worker.runUntil(async () => {
      const first = await startLadder(env, taskQueue, a.accountId, a.invoiceIds[0]!, policy);
      const second = await startLadder(env, taskQueue, b.accountId, b.invoiceIds[0]!, policy);
      await waitForState(first, 'overdue');
      await waitForState(second, 'overdue');
      // The held ladder recounts every 10 minutes from the moment it was held (120 h plus the
      // few milliseconds its task took), so landing at 121 h left a recount due milliseconds
      // after the skip, racing the release below. The time-skipping server refuses a task that
      // cancels a timer which fired while the task was at the worker and never redelivers it
      // (temporalio/sdk-java#3088): the ladder hung and held time still for the next tests.
      // Landing halfway between recounts leaves minutes of real time before the next one.
      await env.sleep(120 * HOUR + 5 * MINUTE);
      const states = await Promise.all(
        [first, second].map((h) =>
          waitForStatus(h, (s) => s.state === 'suspended' || s.suspensionHold !== null, 'suspended or held'),
        ),
      );
      const held = states.filter((s) => s.suspensionHold !== null);
      expect(held).toHaveLength(1);
      expect(states.filter((s) => s.state === 'suspended')).toHaveLength(1);
      const heldHandle = states[0]!.suspensionHold ? first : second;
      expect(deps.chat.posted.filter((p) => p.channel === 'ops').map((p) => p.message.title)).toContain(
        'Circuit breaker: suspension held',
      );

      const released = await heldHandle.executeUpdate(releaseSuspensionHoldUpdate, { args: [admin] });
      expect(released.history.map((h) => h.kind)).toContain('suspension_hold_released');
      await waitForState(heldHandle, 'suspended');
      await recordHistory(heldHandle, 'circuit-breaker-hold-released');
    });
  });

  it('dispute: the ladder freezes at its rung and moves on only after resume', async () => {
    const { worker, taskQueue } = await startWorker(env, recordingDeps());
    const { accountId, invoiceIds } = await seedAccount();
    await worker.runUntil(async () => {
      const handle = await startLadder(env, taskQueue, accountId, invoiceIds[0]!);
      await waitForState(handle, 'overdue');
      await handle.signal(disputeOpenedSignal, {
        disputeId: 'dp_1',
        eventId: 'evt_dispute_1',
        at: new Date().toISOString(),
      });
      await waitForStatus(handle, (s) => s.disputeFrozen !== null, 'frozen');
      await env.sleep(10 * DAY);
      const frozen = await handle.query(statusQuery);
      expect(frozen.state).toBe('overdue');
      expect(frozen.nextAction).toBeNull();
      const resumed = await handle.executeUpdate(resumeUpdate, {
        args: [{ actor: 'ops@example.test', reason: 'dispute reviewed' }],
      });
      expect(resumed.disputeFrozen).toBeNull();
      // The frozen time does not count: the final warning is still 72 h after the ladder began, shifted.
      expect(Date.parse(resumed.nextAction!.at)).toBeGreaterThan(
        Date.parse(frozen.overdueSince!) + 72 * HOUR + 9 * DAY,
      );
      await env.sleep(73 * HOUR);
      await waitForState(handle, 'final_warning');
    });
    expect((await eventsOf(accountId)).map((e) => e.kind)).toContain('admin_resume');
  });

  it('pause, extendGrace, resume and approveDeletionReview change the status and are audited', async () => {
    const { worker, taskQueue } = await startWorker(env, recordingDeps());
    const { accountId, invoiceIds } = await seedAccount();
    await worker.runUntil(async () => {
      const handle = await startLadder(env, taskQueue, accountId, invoiceIds[0]!);
      const overdue = await waitForState(handle, 'overdue');
      const firstNext = Date.parse(overdue.nextAction!.at);

      const paused = await handle.executeUpdate(pauseUpdate, { args: [admin] });
      expect(paused.paused).toMatchObject(admin);
      expect(paused.nextAction).toBeNull();

      const extended = await handle.executeUpdate(extendGraceUpdate, { args: [{ ...admin, hours: 48 }] });
      expect(extended.graceExtendedHours).toBe(48);

      const resumed = await handle.executeUpdate(resumeUpdate, { args: [admin] });
      expect(resumed.paused).toBeNull();
      expect(Date.parse(resumed.nextAction!.at)).toBeGreaterThanOrEqual(firstNext + 48 * HOUR);

      await env.sleep(50 * DAY);
      await waitForStatus(handle, (s) => s.deletionReviewDueAt !== null, 'deletion review');
      const approved = await handle.executeUpdate(approveDeletionReviewUpdate, { args: [admin] });
      expect(approved.deletionReviewApproval).toMatchObject(admin);
      // Approval records; it neither deletes nor ends the workflow.
      expect((await handle.describe()).status.name).toBe('RUNNING');
      const restored = await handle.executeUpdate(forceRestoreUpdate, { args: [admin] });
      expect(restored.accountId).toBe(accountId);
      expect((await handle.result()).restoredBy).toBe(admin.actor);
      await recordHistory(handle, 'pause-extend-resume-approve-force-restore');
    });
    const kinds = (await eventsOf(accountId)).map((e) => e.kind);
    expect(kinds).toEqual(
      expect.arrayContaining([
        'admin_pause',
        'admin_extend_grace',
        'admin_resume',
        'admin_approve_deletion_review',
        'admin_force_restore',
      ]),
    );
    const audit = (await eventsOf(accountId)).find((e) => e.kind === 'admin_pause');
    expect(audit).toMatchObject({ actor: admin.actor, reason: admin.reason });
  });

  it('invalid updates are rejected by the validator and change nothing', async () => {
    const { worker, taskQueue } = await startWorker(env, recordingDeps());
    const { accountId, invoiceIds } = await seedAccount();
    await worker.runUntil(async () => {
      const handle = await startLadder(env, taskQueue, accountId, invoiceIds[0]!);
      await waitForState(handle, 'overdue');
      const before = await handle.query(statusQuery);
      const attempts: (() => Promise<unknown>)[] = [
        () => handle.executeUpdate(pauseUpdate, { args: [{ actor: '', reason: 'x' }] }),
        () => handle.executeUpdate(extendGraceUpdate, { args: [{ ...admin, hours: -5 }] }),
        () => handle.executeUpdate(resumeUpdate, { args: [admin] }), // not paused
        () => handle.executeUpdate(releaseSuspensionHoldUpdate, { args: [admin] }), // nothing held
        () => handle.executeUpdate(approveDeletionReviewUpdate, { args: [admin] }), // not due
        () =>
          handle.executeUpdate(pauseUpdate, { args: [{ ...admin, deleteServers: true } as typeof admin] }), // unknown field
      ];
      for (const attempt of attempts) {
        await expect(attempt()).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
      }
      const after = await handle.query(statusQuery);
      expect(after).toEqual(before);
      // Rejected by validators: no update was accepted into history.
      const updateEvents = ((await handle.fetchHistory()).events ?? []).filter(
        (e) =>
          e.workflowExecutionUpdateAcceptedEventAttributes ||
          e.workflowExecutionUpdateCompletedEventAttributes,
      );
      expect(updateEvents).toHaveLength(0);
    });
    expect((await eventsOf(accountId)).filter((e) => e.kind.startsWith('admin_'))).toHaveLength(0);
  });

  it('many signals: the workflow continues as new and keeps its state, open invoices and applied event ids', async () => {
    const { worker, taskQueue } = await startWorker(env, recordingDeps());
    const { accountId, invoiceIds } = await seedAccount({ invoices: [{}, {}] });
    await worker.runUntil(async () => {
      const handle = await startLadder(env, taskQueue, accountId, invoiceIds[0]!, testPolicy(), {
        continueAsNewAfterEvents: 40,
      });
      await waitForState(handle, 'overdue');
      const firstRunId = (await handle.describe()).runId;
      await failAgain(handle, invoiceIds[1]!, 'evt_second_invoice');
      for (let i = 0; i < 40; i++) await failAgain(handle, invoiceIds[0]!, `evt_retry_${i}`);
      await waitForStatus(
        handle,
        (s) => (s.openInvoices.find((o) => o.invoiceId === invoiceIds[0])?.failures ?? 0) === 41,
        'all failures counted',
      );
      const latest = env.client.workflow.getHandle(handle.workflowId);
      // The hand-over waits for the signal handlers' audit activities to finish.
      const deadline = Date.now() + 20_000;
      let runId = (await latest.describe()).runId;
      while (runId === firstRunId && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        runId = (await latest.describe()).runId;
      }
      expect(runId).not.toBe(firstRunId);
      // Replaying an event id applied before the hand-over is still ignored.
      await failAgain(latest, invoiceIds[0]!, 'evt_retry_0');
      await failAgain(latest, invoiceIds[0]!, 'evt_after_handover');
      const status = await waitForStatus(
        latest,
        (s) => (s.openInvoices.find((o) => o.invoiceId === invoiceIds[0])?.failures ?? 0) === 42,
        'post-handover failure',
      );
      expect(status.state).toBe('overdue');
      expect(status.openInvoices.map((o) => o.invoiceId).sort()).toEqual([...invoiceIds].sort());
      expect(status.history.filter((h) => h.kind === 'overdue')).toHaveLength(1);
      await env.sleep(73 * HOUR);
      await waitForState(latest, 'final_warning');
      await recordHistory(handle, 'continued-as-new-first-run');
    });
    const emails = (await notificationsOf(accountId))
      .filter((n) => n.channel === 'email')
      .map((n) => n.template);
    expect(emails).toEqual(['payment_failed', 'final_warning']);
  });
});
