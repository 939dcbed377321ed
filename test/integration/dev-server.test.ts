// On the real Temporal dev server (the CLI, as `npm run dev` runs it), in real time with a
// ladder shortened to seconds: what the time-skipping server cannot show.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/platform/logger.js';
import { ensureReconciliationSchedule } from '../../src/reconciliation/schedule.js';
import {
  disputeOpenedSignal,
  SEARCH_ATTRIBUTES,
  type BillingState,
} from '../../src/workflows/definitions.js';
import { RECONCILIATION_SCHEDULE_ID } from '../../src/workflows/reconciliation.js';
import {
  notificationsOf,
  recordingDeps,
  seedAccount,
  startLadder,
  startWorker,
  testPolicy,
  useDevServerEnv,
  waitForStatus,
} from './support/harness.js';

const SECOND = 1000;

/** Visibility is eventually consistent: polls `check` for up to 15 s. */
async function waitUntil(check: () => Promise<boolean>, what: string) {
  const deadline = Date.now() + 15 * SECOND;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('on the Temporal dev server', () => {
  const env = useDevServerEnv();

  const newWorker = async (taskQueue: string) =>
    (await startWorker(env(), recordingDeps(), taskQueue)).worker;

  it("what Temporal's own tools show: the policy in hours and days, and a dispute-frozen ladder without a next action", async () => {
    const taskQueue = `tq-${randomUUID()}`;
    const { accountId, invoiceIds } = await seedAccount();
    const worker = await newWorker(taskQueue);
    await worker.runUntil(async () => {
      const handle = await startLadder(env(), taskQueue, accountId, invoiceIds[0]!, testPolicy(), {
        publishSearchAttributes: true,
      });
      await waitForStatus(handle, (s) => s.state === 'overdue' && s.history.length > 0, 'overdue');
      // `temporal workflow describe` prints the static details next to the input's milliseconds.
      const described = await handle.describe();
      expect(await described.staticSummary()).toBe(`Billing enforcement for ${accountId}`);
      expect(await described.staticDetails()).toContain(
        '- suspension: after 120 h (5 d), servers stopped, nothing deleted',
      );
      const due = `BillingAccountId = "${accountId}" AND BillingNextActionAt IS NOT NULL`;
      const frozen = `BillingAccountId = "${accountId}" AND BillingNextActionAt IS NULL AND ExecutionStatus = "Running"`;
      const count = async (query: string) => (await env().client.workflow.count(query)).count;
      await waitUntil(async () => (await count(due)) === 1, 'listed with its next action');

      await handle.signal(disputeOpenedSignal, {
        disputeId: 'dp_tools_1',
        eventId: `evt_${randomUUID()}`,
        at: new Date().toISOString(),
      });
      // Frozen: the next action is gone from the search attributes, so a query for what is due
      // no longer lists it, and `temporal workflow metadata` says why.
      await waitUntil(async () => (await count(frozen)) === 1, 'listed as having no next action');
      expect(await count(due)).toBe(0);
      const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      expect(metadata.currentDetails).toContain('FROZEN by dispute dp_tools_1');
      expect(metadata.currentDetails).toContain('- retained: after 14 d (336 h)');
    });
  });

  it('worker stopped mid-ladder, time passes, a new worker continues: no missed rung, no duplicate notification; search attributes follow the state', async () => {
    const taskQueue = `tq-${randomUUID()}`;
    const { accountId, invoiceIds } = await seedAccount();
    const policy = testPolicy({
      finalWarningAfterMs: 2 * SECOND,
      suspendAfterMs: 4 * SECOND,
      retainAfterMs: 6 * SECOND,
      retentionMs: 60 * 60 * SECOND,
    });
    const first = await newWorker(taskQueue);
    const handle = await first.runUntil(async () => {
      const h = await startLadder(env(), taskQueue, accountId, invoiceIds[0]!, policy, {
        publishSearchAttributes: true,
      });
      await waitForStatus(h, (s) => s.state === 'overdue' && s.history.length > 0, 'overdue');
      return h;
    });
    // No worker for longer than the rest of the ladder takes.
    await new Promise((r) => setTimeout(r, 7 * SECOND));
    const second = await newWorker(taskQueue);
    await second.runUntil(async () => {
      const status = await waitForStatus(
        handle,
        (s) => s.state === 'retained' && s.history.some((h) => h.kind === 'retained'),
        'retained',
        30 * SECOND,
      );
      expect(status.history.map((h) => h.kind)).toEqual([
        'overdue',
        'final_warning',
        'suspended',
        'retained',
      ]);
      const deadline = Date.now() + 15 * SECOND;
      let found: BillingState | undefined;
      while (Date.now() < deadline && found !== 'retained') {
        for await (const wf of env().client.workflow.list({
          query: `BillingAccountId = "${accountId}" AND BillingState = "retained"`,
        })) {
          found = wf.searchAttributes.BillingState?.[0] as BillingState | undefined;
        }
        if (found !== 'retained') await new Promise((r) => setTimeout(r, 250));
      }
      expect(found).toBe('retained');
      const description = await handle.describe();
      expect(description.typedSearchAttributes.get(SEARCH_ATTRIBUTES[3]!)).toBeInstanceOf(Date); // BillingNextActionAt
    });
    const emails = (await notificationsOf(accountId))
      .filter((n) => n.channel === 'email')
      .map((n) => n.template);
    expect(emails).toEqual(['payment_failed', 'final_warning', 'suspended', 'retained']);
    const discord = (await notificationsOf(accountId)).filter((n) => n.channel === 'discord_billing');
    expect(discord).toHaveLength(4);
    await handle.terminate('test finished');
  });

  it('creates the reconciliation Schedule once, and updates it when the interval changes', async () => {
    const logger = createLogger('silent');
    const taskQueue = `tq-${randomUUID()}`;
    const options = { taskQueue, intervalMinutes: 60, logger };
    const first = await ensureReconciliationSchedule(env().client, options);
    // A previous run of this file on the same server would have left it: either is fine.
    expect(['created', 'updated']).toContain(first);
    expect(await ensureReconciliationSchedule(env().client, options)).toBe('unchanged');
    expect(await ensureReconciliationSchedule(env().client, { ...options, intervalMinutes: 15 })).toBe(
      'updated',
    );
    const description = await env().client.schedule.getHandle(RECONCILIATION_SCHEDULE_ID).describe();
    expect(description.spec.intervals?.[0]?.every).toBe(15 * 60_000);
    expect(description.action).toMatchObject({ workflowType: 'reconciliationWorkflow', taskQueue });
    await env().client.schedule.getHandle(RECONCILIATION_SCHEDULE_ID).delete();
  });
});
