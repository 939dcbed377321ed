import { beforeEach, describe, expect, it } from 'vitest';
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

  it('two open invoices: paying one restores nothing, paying both restores', async () => {
    const { worker, taskQueue } = await startWorker(env, recordingDeps());
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
      await settle(handle, invoiceIds[0]!);
      const one = await waitForStatus(handle, (s) => s.openInvoices.length === 1, 'one open invoice');
      expect(one.state).toBe('suspended');
      expect(one.restored).toBeNull();
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
