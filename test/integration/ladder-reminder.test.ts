// The optional reminder rung (POLICY_REMINDER_AFTER_HOURS): one more email at its hour, once,
// while the account stays overdue; nothing at all when the policy leaves it out.
import { beforeEach, describe, expect, it } from 'vitest';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { statusQuery } from '../../src/workflows/definitions.js';
import {
  db,
  HOUR,
  MINUTE,
  notificationsOf,
  recordHistory,
  recordingDeps,
  seedAccount,
  startLadder,
  startWorker,
  testPolicy,
  useTimeSkippingEnv,
  waitForState,
  waitForStatus,
} from './support/harness.js';

const emailsOf = async (accountId: string) =>
  (await notificationsOf(accountId)).filter((n) => n.channel === 'email').map((n) => n.template);

describe('the reminder rung', () => {
  const timeSkipping = useTimeSkippingEnv();
  let env: TestWorkflowEnvironment;
  beforeEach(() => {
    env = timeSkipping();
  });

  it('sends one reminder at the configured hour, keeps the account overdue, then the final warning', async () => {
    const { worker, taskQueue } = await startWorker(env, recordingDeps());
    const { accountId, invoiceIds } = await seedAccount();
    await worker.runUntil(async () => {
      const handle = await startLadder(
        env,
        taskQueue,
        accountId,
        invoiceIds[0]!,
        testPolicy({ reminderAfterMs: 24 * HOUR }),
      );
      await waitForState(handle, 'overdue');
      const start = Date.parse((await handle.query(statusQuery)).overdueSince!);
      await env.sleep(start + 24 * HOUR - MINUTE - (await env.currentTimeMs()));
      const before = await handle.query(statusQuery);
      expect(before.history.map((h) => h.kind)).toEqual(['overdue']);
      // "Next" for the customer is still the final warning, not the reminder.
      expect(before.nextAction).toEqual({
        rung: 'final_warning',
        at: new Date(start + 72 * HOUR).toISOString(),
      });
      expect(await emailsOf(accountId)).toEqual(['payment_failed']);

      await env.sleep(2 * MINUTE);
      const reminded = await waitForStatus(
        handle,
        (s) => s.history.some((h) => h.kind === 'reminder'),
        'reminder',
      );
      expect(reminded.state).toBe('overdue');
      expect(
        Date.parse(reminded.history.find((h) => h.kind === 'reminder')!.at) - start,
      ).toBeGreaterThanOrEqual(24 * HOUR);
      const account = await db().billingAccount.findUniqueOrThrow({ where: { id: accountId } });
      expect(account.state).toBe('overdue');
      expect(account.backupsBlocked).toBe(false);

      await env.sleep(start + 72 * HOUR + MINUTE - (await env.currentTimeMs()));
      const warned = await waitForState(handle, 'final_warning');
      expect(warned.history.map((h) => h.kind)).toEqual(['overdue', 'reminder', 'final_warning']);
      await recordHistory(handle, 'reminder-then-final-warning');
    });
    expect(await emailsOf(accountId)).toEqual(['payment_failed', 'payment_reminder', 'final_warning']);
  });

  it('off by default: no reminder between the first email and the final warning', async () => {
    const { worker, taskQueue } = await startWorker(env, recordingDeps());
    const { accountId, invoiceIds } = await seedAccount();
    await worker.runUntil(async () => {
      const handle = await startLadder(env, taskQueue, accountId, invoiceIds[0]!);
      await waitForState(handle, 'overdue');
      await env.sleep(73 * HOUR);
      const warned = await waitForState(handle, 'final_warning');
      expect(warned.history.map((h) => h.kind)).toEqual(['overdue', 'final_warning']);
    });
    expect(await emailsOf(accountId)).toEqual(['payment_failed', 'final_warning']);
  });
});
