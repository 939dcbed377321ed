// Open ladders at scale: N enforcement workflows started with the default policy (72 h to the
// final warning) on the Temporal dev server, a real worker process (src/worker.ts, recording
// adapters, ENFORCEMENT_MODE=enforce so the overdue email is rendered and recorded) running
// their first rung, then all of them sitting on timers. Measures the time to start them, the
// time until every account is `overdue` in PostgreSQL, the worker's RSS and the database size.
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../src/platform/config.js';
import { createPrisma } from '../src/platform/database.js';
import { WORKER_NODE_FLAGS } from '../src/platform/temporal/worker-factory.js';
import { projectRoot } from '../src/dev/toolchain.js';
import { type billingEnforcementWorkflow } from '../src/workflows/billing-enforcement.js';
import { paymentFailedSignal, workflowIdFor, type PaymentFailed } from '../src/workflows/definitions.js';
import {
  closedLoop,
  progress,
  round,
  rssMb,
  sampleRss,
  serviceEnv,
  sleep,
  spawnService,
  startDevServer,
  startPostgres,
  tempDir,
  waitFor,
  WORKER_READY,
  type ChildService,
} from './lib.js';

const TASK_QUEUE = 'billing-enforcement';

export interface OpenLaddersOptions {
  ladders: number;
  concurrency: number;
  timeoutMs: number;
}

export const openLaddersDefaults = (quick: boolean): OpenLaddersOptions =>
  quick
    ? { ladders: 200, concurrency: 32, timeoutMs: 5 * 60_000 }
    : { ladders: 10_000, concurrency: 32, timeoutMs: 40 * 60_000 };

export async function runOpenLadders(options: OpenLaddersOptions) {
  const { ladders, concurrency } = options;
  const tmp = tempDir('billing-bench-ladders-');
  let worker: ChildService | undefined;
  progress('ladders: starting a throwaway PostgreSQL and the Temporal dev server');
  const pg = await startPostgres(tmp);
  const temporal = await startDevServer();
  const db = createPrisma(pg.databaseUrl);
  try {
    progress(`ladders: seeding ${ladders} accounts (email, one open invoice, one server)`);
    for (let start = 0; start < ladders; start += 2000) {
      const ids = Array.from({ length: Math.min(2000, ladders - start) }, (_, i) => start + i);
      await db.billingAccount.createMany({
        data: ids.map((i) => ({
          id: `bench_ol_${i}`,
          stripeCustomerId: `cus_bench_ol_${i}`,
          email: `bench_ol_${i}@customer.example.test`,
          name: 'Bench Customer',
        })),
      });
      await db.invoice.createMany({
        data: ids.map((i) => ({
          id: `in_bench_ol_${i}`,
          accountId: `bench_ol_${i}`,
          status: 'open',
          amountDue: 2500,
          currency: 'usd',
          hostedInvoiceUrl: `https://invoice.stripe.test/in_bench_ol_${i}`,
          lastEventCreatedAt: new Date(),
        })),
      });
      await db.server.createMany({
        data: ids.map((i) => ({ accountId: `bench_ol_${i}`, vmid: 200_000 + i, node: 'pve1' })),
      });
    }

    const env = serviceEnv({
      databaseUrl: pg.databaseUrl,
      temporalAddress: temporal.address,
      taskQueue: TASK_QUEUE,
      // info, as in production: every recorded email and Discord post is a log line.
      extra: {
        LOG_LEVEL: 'info',
        ENFORCEMENT_MODE: 'enforce',
        ...(process.env.BENCH_WORKER_NODE_OPTIONS
          ? { NODE_OPTIONS: process.env.BENCH_WORKER_NODE_OPTIONS }
          : {}),
      },
    });
    const policy = loadConfig(env).policy;
    progress(`ladders: starting the worker (node ${WORKER_NODE_FLAGS.join(' ')} --import tsx src/worker.ts)`);
    worker = await spawnService(
      path.join(projectRoot, 'src/worker.ts'),
      env,
      WORKER_READY,
      120_000,
      [],
      WORKER_NODE_FLAGS,
    );
    const idleRss = rssMb(worker.pid);
    const rss = sampleRss(worker.pid);

    progress(`ladders: starting ${ladders} ladders with signalWithStart, ${concurrency} at a time`);
    const t0 = Date.now();
    const started = await closedLoop(
      ladders,
      concurrency,
      (i) =>
        temporal.client.workflow
          .signalWithStart<typeof billingEnforcementWorkflow, [PaymentFailed]>('billingEnforcementWorkflow', {
            workflowId: workflowIdFor(`bench_ol_${i}`),
            taskQueue: TASK_QUEUE,
            args: [{ accountId: `bench_ol_${i}`, policy, publishSearchAttributes: true }],
            signal: paymentFailedSignal,
            signalArgs: [
              {
                invoiceId: `in_bench_ol_${i}`,
                eventId: `evt_bench_ol_${i}`,
                at: new Date().toISOString(),
                amountDue: 2500,
                currency: 'usd',
              },
            ],
          })
          .then(() => true),
      (done) => progress(`ladders: ${done} started`),
    );
    const startSeconds = round((Date.now() - t0) / 1000, 1);
    progress(`ladders: ${started.ok} started in ${startSeconds} s; waiting until every account is overdue`);

    let lastReport = 0;
    const overdue = await waitFor(
      () => db.billingAccount.count({ where: { state: 'overdue' } }),
      (n) => n >= ladders,
      {
        timeoutMs: options.timeoutMs,
        everyMs: 1000,
        onPoll: (n) => {
          if (Date.now() - lastReport > 10_000) {
            lastReport = Date.now();
            progress(`ladders: ${n} of ${ladders} overdue, worker RSS ${rssMb(worker!.pid) ?? '?'} MB`);
          }
        },
      },
    );
    const overdueSeconds = round((Date.now() - t0) / 1000, 1);
    progress(
      `ladders: ${overdue.value} overdue after ${overdueSeconds} s; letting the first rung's notifications settle`,
    );
    // The overdue email and Discord post come after the transition; wait for them too.
    const notified = await waitFor(
      () =>
        db.notification.count({ where: { template: 'payment_failed', status: { in: ['logged', 'sent'] } } }),
      (n) => n >= ladders,
      // Not met already: a short look only, the figure will say how far it got.
      { timeoutMs: overdue.met ? options.timeoutMs : 10_000, everyMs: 1000 },
    );
    const rungDoneSeconds = round((Date.now() - t0) / 1000, 1);
    // Then all of them wait on timers; the worker holds what it caches of them.
    await sleep(10_000);
    const rssAfter = rssMb(worker.pid);
    const rssSamples = rss.stop();
    const running = await temporal.client.workflow.count('ExecutionStatus = "Running"');
    const [size] = await db.$queryRaw<
      { size: bigint }[]
    >`SELECT pg_database_size(current_database()) AS size`;
    const notifications = await db.notification.groupBy({ by: ['channel', 'status'], _count: true });
    const failed = await db.notification.count({ where: { status: 'failed' } });
    return {
      ladders,
      policy: 'default (72 h to the final warning): every ladder waits on a timer after `overdue`',
      worker: `child process: node ${WORKER_NODE_FLAGS.join(' ')} --import tsx src/worker.ts (as deployed), LOG_LEVEL=info, recording adapters, RSS from /proc/<pid>/status`,
      start: {
        seconds: startSeconds,
        perSecond: round(started.ok / startSeconds, 1),
        failed: started.failed,
        latencyMs: started.latencyMs,
      },
      allOverdueSeconds: overdueSeconds,
      allOverdue: overdue.met,
      overdueAccounts: overdue.value,
      firstRungNotificationsDoneSeconds: rungDoneSeconds,
      emailsRecorded: notified.value,
      notifications: Object.fromEntries(notifications.map((g) => [`${g.channel}/${g.status}`, g._count])),
      failedNotifications: failed,
      runningWorkflows: running.count,
      workerRssMb: { idle: idleRss, peak: rssSamples.peakMb, afterSettled: rssAfter, target: 512 },
      workerRssMet: rssSamples.peakMb <= 512,
      databaseSizeMb: round(Number(size!.size) / 1024 ** 2, 1),
    };
  } finally {
    await worker?.stop();
    await db.$disconnect();
    await temporal.teardown();
    await pg.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
