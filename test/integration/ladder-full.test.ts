import { beforeEach, describe, expect, it } from 'vitest';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import {
  db,
  DAY,
  notificationsOf,
  recordingDeps,
  seedAccount,
  startLadder,
  startWorker,
  waitForState,
  waitForStatus,
  recordHistory,
  useTimeSkippingEnv,
} from './support/harness.js';

describe('the full ladder', () => {
  const timeSkipping = useTimeSkippingEnv();
  let env: TestWorkflowEnvironment;
  beforeEach(() => {
    env = timeSkipping();
  });

  it('walks overdue → final warning → suspended → retained → deletion review, deleting nothing', async () => {
    const deps = recordingDeps();
    const { worker, taskQueue } = await startWorker(env, deps);
    const { accountId, vmids, invoiceIds } = await seedAccount({ servers: ['running', 'stopped'] });
    const started = Date.now();
    await worker.runUntil(async () => {
      const handle = await startLadder(env, taskQueue, accountId, invoiceIds[0]!);
      await waitForState(handle, 'overdue');
      await env.sleep(45 * DAY);
      const status = await waitForStatus(handle, (s) => s.deletionReviewDueAt !== null, 'deletion review');
      expect(status.state).toBe('retained');
      expect(status.history.map((h) => h.kind)).toEqual([
        'overdue',
        'final_warning',
        'suspended',
        'retained',
        'deletion_review_due',
      ]);
      const description = await handle.describe();
      expect(description.status.name).toBe('RUNNING');
      await recordHistory(handle, 'full-ladder-to-deletion-review');
    });
    const wallMs = Date.now() - started;
    console.log(`full ladder to deletion review: ${wallMs} ms wall time`);

    const account = await db().billingAccount.findUniqueOrThrow({
      where: { id: accountId },
      include: { servers: { orderBy: { vmid: 'asc' } } },
    });
    expect(account.state).toBe('retained');
    expect(account.backupsBlocked).toBe(true);
    expect(account.deletionReviewDueAt).not.toBeNull();
    expect(
      account.servers.map((s) => [s.vmid, s.billingSuspended, s.powerState, s.powerStateBeforeSuspend]),
    ).toEqual([
      [vmids[0], true, 'stopped', 'running'],
      [vmids[1], true, 'stopped', 'stopped'],
    ]);
    const emails = (await notificationsOf(accountId))
      .filter((n) => n.channel === 'email')
      .map((n) => n.template);
    expect(emails).toEqual(['payment_failed', 'final_warning', 'suspended', 'retained']);
    expect(deps.servers.calls).toEqual([`shutdown:${vmids[0]}`]);
  });
});
