// Notifications on their own task queues, served by the rate-limited workers src/worker.ts runs
// (createNotificationWorkers), on the Temporal dev server: a herd's emails and posts wait in
// Temporal and go out at the configured rate, none failing for being one of many.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { createLadderClient } from '../../src/ladder/client.js';
import { createNotificationWorkers, runWorkers } from '../../src/platform/temporal/worker-factory.js';
import { notificationTaskQueuesFor, workflowIdFor } from '../../src/workflows/definitions.js';
import {
  db,
  recordingDeps,
  seedAccount,
  startWorker,
  testPolicy,
  useDevServerEnv,
} from './support/harness.js';

const LADDERS = 12;
const RATE = 4;

describe('notification task queues', () => {
  const env = useDevServerEnv();

  it(`${LADDERS} ladders at once: every email and post goes out on its queue, no faster than ${RATE}/s, none failed`, async () => {
    const taskQueue = `tq-${randomUUID()}`;
    const queues = notificationTaskQueuesFor(taskQueue);
    const deps = recordingDeps();
    const { worker } = await startWorker(env(), deps, taskQueue);
    const notifiers = await createNotificationWorkers({
      connection: env().nativeConnection,
      namespace: 'default',
      taskQueue,
      activities: createActivities(deps),
      emailPerSecond: RATE,
      // Billing posts go out 10 to a Discord message: their queue hands out 10 per message.
      discordPerSecond: RATE / 10,
    });
    const ladder = createLadderClient({
      client: env().client,
      taskQueue,
      policy: testPolicy(),
      publishSearchAttributes: false,
      notificationTaskQueues: queues,
    });
    const accounts = await Promise.all(Array.from({ length: LADDERS }, () => seedAccount()));
    const ids = accounts.map((a) => a.accountId);

    const all = [worker, ...notifiers];
    const running = runWorkers(all);
    try {
      await Promise.all(
        accounts.map((a) =>
          ladder.paymentFailed(a.accountId, {
            invoiceId: a.invoiceIds[0]!,
            eventId: `evt_${randomUUID()}`,
            at: new Date().toISOString(),
            amountDue: 2500,
            currency: 'usd',
          }),
        ),
      );
      const deadline = Date.now() + 60_000;
      const settled = () =>
        db().notification.count({
          where: { accountId: { in: ids }, channel: { in: ['email', 'discord_billing'] }, status: 'logged' },
        });
      while ((await settled()) < 2 * LADDERS && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 250));
    } finally {
      for (const w of all) w.shutdown();
      await running;
    }

    const rows = await db().notification.findMany({
      where: { accountId: { in: ids }, channel: { in: ['email', 'discord_billing'] } },
      orderBy: { sentAt: 'asc' },
    });
    const emails = rows.filter((r) => r.channel === 'email');
    const posts = rows.filter((r) => r.channel === 'discord_billing');
    expect(emails.map((r) => r.status)).toEqual(Array(LADDERS).fill('logged'));
    expect(posts.map((r) => r.status)).toEqual(Array(LADDERS).fill('logged'));

    // The rate: N sends at RATE/s span at least (N - 1) / RATE seconds, less a first burst.
    const spanSeconds = (list: typeof rows) =>
      (list.at(-1)!.sentAt!.getTime() - list[0]!.sentAt!.getTime()) / 1000;
    const burstAllowance = 1;
    expect(spanSeconds(emails)).toBeGreaterThanOrEqual((LADDERS - 1) / RATE - burstAllowance);
    expect(spanSeconds(posts)).toBeGreaterThanOrEqual((LADDERS - 1) / RATE - burstAllowance);

    // And they ran on the notification queues, not the ladder's.
    const history = await env().client.workflow.getHandle(workflowIdFor(ids[0]!)).fetchHistory();
    const scheduled = (history.events ?? [])
      .map((e) => e.activityTaskScheduledEventAttributes)
      .filter(
        (a) => a?.activityType?.name === 'sendCustomerEmail' || a?.activityType?.name === 'notifyDiscord',
      )
      .map((a) => `${a!.activityType!.name}@${a!.taskQueue!.name}`);
    expect(scheduled).toEqual([
      `sendCustomerEmail@${queues.email}`,
      `notifyDiscord@${queues.discordBilling}`,
    ]);
  });
});
