import { beforeEach, describe, expect, it } from 'vitest';
import { type WorkflowHandle } from '@temporalio/client';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { statusQuery } from '../../src/workflows/definitions.js';
import {
  DAY,
  db,
  eventsOf,
  failAgain,
  HOUR,
  notificationsOf,
  recordingDeps,
  seedAccount,
  settle,
  startLadder,
  startWorker,
  waitForState,
  waitForStatus,
  recordHistory,
  useTimeSkippingEnv,
} from './support/harness.js';

/**
 * The workflow's history once it has nothing in flight: a workflow task completed past event
 * `after` with nothing after it that would call for another (no signal, no task scheduled), and
 * no activity pending — or the run closed.
 */
async function waitUntilIdle(handle: WorkflowHandle, after = 0, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events = (await handle.fetchHistory()).events ?? [];
    if (events.at(-1)?.workflowExecutionCompletedEventAttributes) return events;
    const lastDone = events.findLastIndex((e) => e.workflowTaskCompletedEventAttributes);
    const quiet = events
      .slice(lastDone + 1)
      .every((e) => !e.workflowTaskScheduledEventAttributes && !e.workflowExecutionSignaledEventAttributes);
    const { raw } = await handle.describe();
    if (lastDone >= after && quiet && (raw.pendingActivities ?? []).length === 0) return events;
    if (Date.now() > deadline) throw new Error(`workflow not idle after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('payment restores at any rung', () => {
  const timeSkipping = useTimeSkippingEnv();
  let env: TestWorkflowEnvironment;
  beforeEach(() => {
    env = timeSkipping();
  });

  const rungs = [
    { name: 'overdue', skip: 0 },
    { name: 'final_warning', skip: 73 * HOUR },
    { name: 'suspended', skip: 121 * HOUR },
    { name: 'retained', skip: 15 * DAY },
    { name: 'deletion review due', skip: 45 * DAY },
  ] as const;

  for (const rung of rungs) {
    it(`paid at ${rung.name}: access restored, only formerly running servers started, one restored email, completed`, async () => {
      const deps = recordingDeps();
      const { worker, taskQueue } = await startWorker(env, deps);
      const { accountId, vmids, invoiceIds } = await seedAccount({
        servers: ['running', 'stopped', 'running'],
      });
      await worker.runUntil(async () => {
        const handle = await startLadder(env, taskQueue, accountId, invoiceIds[0]!);
        await waitForState(handle, 'overdue');
        if (rung.skip) await env.sleep(rung.skip);
        const expected = rung.name === 'deletion review due' ? 'retained' : rung.name;
        await waitForStatus(
          handle,
          (s) =>
            s.state === expected && (rung.name !== 'deletion review due' || s.deletionReviewDueAt !== null),
          rung.name,
        );
        await settle(handle, invoiceIds[0]!);
        const result = await handle.result();
        expect(result).toMatchObject({ outcome: 'restored', finalState: 'active', restoredBy: 'payment' });
        if (rung.name === 'final_warning') await recordHistory(handle, 'paid-at-final-warning');
      });
      const account = await db().billingAccount.findUniqueOrThrow({
        where: { id: accountId },
        include: { servers: { orderBy: { vmid: 'asc' } } },
      });
      expect(account.state).toBe('active');
      expect(account.backupsBlocked).toBe(false);
      expect(account.restoredAt).not.toBeNull();
      expect(account.servers.map((s) => [s.powerState, s.billingSuspended])).toEqual([
        ['running', false],
        ['stopped', false],
        ['running', false],
      ]);
      const wasSuspended =
        rung.name === 'suspended' || rung.name === 'retained' || rung.name === 'deletion review due';
      expect(deps.servers.calls.filter((c) => c.startsWith('start:'))).toEqual(
        wasSuspended ? [`start:${vmids[0]}`, `start:${vmids[2]}`] : [],
      );
      const restoredEmails = (await notificationsOf(accountId)).filter(
        (n) => n.channel === 'email' && n.template === 'restored',
      );
      expect(restoredEmails).toHaveLength(1);
    });
  }

  it('failed and paid in the same first workflow task: the ladder ends at once, nothing sent, no day waited', async () => {
    const deps = recordingDeps();
    const { accountId, invoiceIds } = await seedAccount({ servers: ['running'] });
    // Both messages are on the history before any worker runs: the first task carries both.
    const { worker, taskQueue } = await startWorker(env, deps);
    const handle = await startLadder(env, taskQueue, accountId, invoiceIds[0]!);
    await settle(handle, invoiceIds[0]!);
    await worker.runUntil(async () => {
      expect(await handle.result()).toMatchObject({ outcome: 'nothing_overdue', finalState: 'active' });
    });
    // The day's wait for a failed payment was not sat out: the run closed on the server's clock
    // (which skips idle time, so a day's wait would show) within the hour it started.
    const events = (await handle.fetchHistory()).events ?? [];
    const seconds = (e: (typeof events)[number] | undefined) => Number(e?.eventTime?.seconds ?? 0);
    expect(seconds(events.at(-1)) - seconds(events[0])).toBeLessThan(HOUR / 1000);
    expect(events.at(-1)?.workflowExecutionCompletedEventAttributes).toBeTruthy();
    const firstTask = events.findIndex((e) => e.workflowTaskStartedEventAttributes);
    expect(events.slice(0, firstTask).filter((e) => e.workflowExecutionSignaledEventAttributes)).toHaveLength(
      2,
    );
    expect(await notificationsOf(accountId)).toEqual([]);
    expect(await db().billingAccount.findUniqueOrThrow({ where: { id: accountId } })).toMatchObject({
      state: 'active',
    });
    await recordHistory(handle, 'failed-and-paid-in-first-task');
  });

  it('two open invoices: paying one restores nothing, paying both restores', async () => {
    const deps = recordingDeps();
    const { worker, taskQueue } = await startWorker(env, deps);
    const { accountId, invoiceIds } = await seedAccount({ invoices: [{}, {}] });
    await worker.runUntil(async () => {
      const handle = await startLadder(env, taskQueue, accountId, invoiceIds[0]!);
      await failAgain(handle, invoiceIds[1]!);
      await waitForStatus(
        handle,
        (s) => s.state === 'overdue' && s.openInvoices.length === 2,
        'two open invoices',
      );
      await env.sleep(121 * HOUR);
      await waitForState(handle, 'suspended');
      // The suspension's own activities finish first, so that anything scheduled after the
      // payment below can only be the workflow's answer to it.
      await waitUntilIdle(handle);
      const before = (await handle.fetchHistory()).events ?? [];
      const serverCallsBefore = deps.servers.calls.length;

      await settle(handle, invoiceIds[0]!);
      // Wait for the restore that must not happen: the workflow task that applied the payment
      // has completed and every activity it scheduled has run (a restore would have started
      // servers and moved the account to active by now, or still be running and keep this wait
      // going until it ends).
      const after = await waitUntilIdle(handle, before.length);
      const applied = after.slice(before.length);
      expect(applied.some((e) => e.workflowExecutionSignaledEventAttributes)).toBe(true);
      expect(applied.some((e) => e.workflowTaskCompletedEventAttributes)).toBe(true);
      expect(
        applied.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []),
      ).toEqual([]);
      expect(applied.some((e) => e.workflowExecutionCompletedEventAttributes)).toBe(false);
      expect(deps.servers.calls.slice(serverCallsBefore)).toEqual([]);
      const one = await handle.query(statusQuery);
      expect(one.openInvoices.map((i) => i.invoiceId)).toEqual([invoiceIds[1]]);
      expect(one.history.at(-1)?.kind).toBe('invoice_settled');
      expect(one.state).toBe('suspended');
      expect(one.restored).toBeNull();
      expect((await db().billingAccount.findUniqueOrThrow({ where: { id: accountId } })).state).toBe(
        'suspended',
      );

      await settle(handle, invoiceIds[1]!);
      expect((await handle.result()).outcome).toBe('restored');
    });
    expect((await db().billingAccount.findUniqueOrThrow({ where: { id: accountId } })).state).toBe('active');
  });

  it('the same signal delivered 5 times → one transition, one email', async () => {
    const { worker, taskQueue } = await startWorker(env, recordingDeps());
    const { accountId, invoiceIds } = await seedAccount();
    await worker.runUntil(async () => {
      const handle = await startLadder(env, taskQueue, accountId, invoiceIds[0]!);
      const eventId = 'evt_duplicate_delivery';
      await Promise.all(Array.from({ length: 5 }, () => failAgain(handle, invoiceIds[0]!, eventId)));
      // A genuine Smart Retry (new event id) is recorded but does not restart the ladder.
      await failAgain(handle, invoiceIds[0]!);
      await waitForState(handle, 'overdue');
      // The first failure (signalWithStart), one of the five duplicates, and the Smart Retry.
      await waitForStatus(handle, (s) => s.openInvoices[0]?.failures === 3, 'failures counted');
      const settled = await handle.query(statusQuery);
      expect(settled.openInvoices).toEqual([
        expect.objectContaining({ invoiceId: invoiceIds[0], failures: 3 }),
      ]);
      expect(settled.history.filter((h) => h.kind === 'overdue')).toHaveLength(1);
    });
    const transitions = (await eventsOf(accountId)).filter((e) => e.kind === 'transition:overdue');
    expect(transitions).toHaveLength(1);
    const emails = (await notificationsOf(accountId)).filter((n) => n.channel === 'email');
    expect(emails.map((e) => e.template)).toEqual(['payment_failed']);
  });
});
