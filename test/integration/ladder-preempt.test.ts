// A payment preempts the rung in progress: the ladder never waits on a rate-limited notification
// before it restores, and no enforcement step starts once the payment is known.
import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { type Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities/index.js';
import { createNotificationWorkers, runWorkers } from '../../src/platform/temporal/worker-factory.js';
import { notificationTaskQueuesFor, statusQuery } from '../../src/workflows/definitions.js';
import {
  createTestWorker,
  db,
  eventsOf,
  HOUR,
  MINUTE,
  notificationsOf,
  recordHistory,
  recordingDeps,
  seedAccount,
  settle,
  startLadder,
  testPolicy,
  useTimeSkippingEnv,
  waitForState,
  waitForStatus,
} from './support/harness.js';

/** Polls `read` until `done` holds; fails with what it last read. */
async function eventually<T>(
  read: () => Promise<T>,
  done: (v: T) => boolean,
  what: string,
  timeoutMs = 15_000,
) {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read();
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
}

const accessOf = (accountId: string) =>
  db().billingAccount.findUniqueOrThrow({
    where: { id: accountId },
    select: {
      state: true,
      backupsBlocked: true,
      servers: { select: { powerState: true, billingSuspended: true }, orderBy: { vmid: 'asc' } },
    },
  });

describe('a payment preempts the rung in progress', () => {
  const timeSkipping = useTimeSkippingEnv();
  let env: TestWorkflowEnvironment;
  beforeEach(() => {
    env = timeSkipping();
  });

  it("paid while the suspension's email and Discord post wait in the rate-limited queues: access restored without them, they are never sent", async () => {
    const deps = recordingDeps();
    const activities = createActivities(deps);
    const taskQueue = `tq-${randomUUID()}`;
    const queues = notificationTaskQueuesFor(taskQueue);
    const notifiers = () =>
      createNotificationWorkers({
        connection: env.nativeConnection,
        namespace: env.namespace ?? 'default',
        taskQueue,
        activities,
        emailPerSecond: 50,
        discordPerSecond: 50,
        shutdownGraceTime: 0,
      });
    const ladderWorker = await createTestWorker(env, taskQueue, activities);
    const { accountId, invoiceIds } = await seedAccount({ servers: ['running'] });

    await ladderWorker.runUntil(async () => {
      // The rate-limited workers serve the first two rungs…
      let serving: Worker[] = await notifiers();
      let running = runWorkers(serving);
      const handle = await startLadder(env, taskQueue, accountId, invoiceIds[0]!, testPolicy(), {
        notificationTaskQueues: queues,
      });
      await waitForState(handle, 'overdue');
      await env.sleep(72 * HOUR + MINUTE);
      // The rung's history entry is written once its notifications have settled.
      await waitForState(handle, 'final_warning');
      // …then stop: what the suspension sends stays queued, as behind a herd.
      for (const w of serving) w.shutdown();
      await running;

      // To just past the suspension, not beyond: once its notifications are queued the test
      // server's clock moves only in real time.
      const { overdueSince } = await handle.query(statusQuery);
      const sleeping = env.sleep(Date.parse(overdueSince!) + 120 * HOUR + 1000 - (await env.currentTimeMs()));
      await eventually(
        async () => (await handle.describe()).raw.pendingActivities ?? [],
        (pending) =>
          pending
            .map((a) => a.activityType?.name)
            .sort()
            .join() === 'notifyDiscord,sendCustomerEmail',
        "the suspension's notifications queued",
      );
      expect(await accessOf(accountId)).toEqual({
        state: 'suspended',
        backupsBlocked: true,
        servers: [{ powerState: 'stopped', billingSuspended: true }],
      });

      await settle(handle, invoiceIds[0]!);
      // No notification worker runs: access comes back without the queued notifications.
      const restored = {
        state: 'active',
        backupsBlocked: false,
        servers: [{ powerState: 'running', billingSuspended: false }],
      };
      await eventually(
        () => accessOf(accountId),
        (a) => JSON.stringify(a) === JSON.stringify(restored),
        'access restored while the notifications are queued',
      );
      expect(deps.servers.calls.filter((c) => c.startsWith('start:'))).toHaveLength(1);

      // The restore's own email and post go out once the queues are served again.
      serving = await notifiers();
      running = runWorkers(serving);
      try {
        expect(await handle.result()).toMatchObject({ outcome: 'restored', restoredBy: 'payment' });
      } finally {
        for (const w of serving) w.shutdown();
        await running;
      }
      await sleeping;

      const events = (await handle.fetchHistory()).events ?? [];
      const cancelled = events.filter((e) => e.activityTaskCancelRequestedEventAttributes).length;
      expect(cancelled).toBe(2);
      const status = await handle.query(statusQuery);
      const suspended = status.history.find((h) => h.kind === 'suspended');
      expect(suspended?.actions).toEqual([
        expect.stringMatching(/^servers stopped/),
        'email:suspended: dropped, settled before it was sent',
        'discord:billing: dropped, settled before it was sent',
      ]);
      await recordHistory(handle, 'paid-while-notifications-queued-restored-in-one-activity');
    });

    // The customer hears that access is back, never that it was taken after they paid.
    const sent = (await notificationsOf(accountId))
      .filter((n) => n.channel === 'email')
      .map((n) => n.template);
    expect(sent).toEqual(['payment_failed', 'final_warning', 'restored']);
  });
});

// A test server of its own: the one above keeps the cancelled notifications' tasks in its queues,
// and holds its clock for them (its time would no longer skip for the ladders below).
describe('a payment preempts the enforcement of the rung in progress', () => {
  const timeSkipping = useTimeSkippingEnv();
  let env: TestWorkflowEnvironment;
  beforeEach(() => {
    env = timeSkipping();
  });

  for (const [nth, which] of [
    [1, 'the circuit-breaker claim'],
    [2, 'the transition'],
  ] as const) {
    it(`paid while the suspension rung reads the account's flags for ${which}: servers never stopped`, async () => {
      const deps = recordingDeps();
      const activities = createActivities(deps);
      let opened!: () => void;
      let entered!: () => void;
      const open = new Promise<void>((r) => (opened = r));
      const reached = new Promise<void>((r) => (entered = r));
      let reads = 0;
      const taskQueue = `tq-${randomUUID()}`;
      const worker = await createTestWorker(env, taskQueue, {
        ...activities,
        // The suspension rung's reads are the ones made while the account is at the final warning.
        loadAccountFlags: async (input) => {
          const { state } = await db().billingAccount.findUniqueOrThrow({ where: { id: input.accountId } });
          if (state === 'final_warning' && ++reads === nth) {
            entered();
            await open;
          }
          return activities.loadAccountFlags(input);
        },
      });
      const { accountId, invoiceIds } = await seedAccount({ servers: ['running'] });
      await worker.runUntil(async () => {
        try {
          const handle = await startLadder(env, taskQueue, accountId, invoiceIds[0]!);
          await waitForState(handle, 'overdue');
          // To just past the suspension: the held read stays well inside its 2-minute timeout.
          const sleeping = env.sleep(120 * HOUR + MINUTE);
          await reached;
          await settle(handle, invoiceIds[0]!);
          await waitForStatus(
            handle,
            (s) => s.history.at(-1)?.kind === 'invoice_settled',
            'the payment applied while the read is held',
          );
          opened();
          await sleeping;
          expect(await handle.result()).toMatchObject({ outcome: 'restored', restoredBy: 'payment' });
          const status = await handle.query(statusQuery);
          expect(status.history.map((h) => h.kind)).toEqual([
            'overdue',
            'final_warning',
            'invoice_settled',
            'rung_preempted',
            'restored',
          ]);
          if (nth === 1) await recordHistory(handle, 'paid-during-suspension-flag-read-restored-in-one-activity');
        } finally {
          opened();
        }
      });
      expect(deps.servers.calls.filter((c) => c.startsWith('shutdown:'))).toEqual([]);
      expect((await eventsOf(accountId)).map((e) => e.kind)).not.toContain('transition:suspended');
      expect(await accessOf(accountId)).toEqual({
        state: 'active',
        backupsBlocked: false,
        servers: [{ powerState: 'running', billingSuspended: false }],
      });
      const emails = (await notificationsOf(accountId))
        .filter((n) => n.channel === 'email')
        .map((n) => n.template);
      expect(emails).toEqual(['payment_failed', 'final_warning', 'restored']);
    });
  }
});
