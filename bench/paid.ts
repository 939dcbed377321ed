// Paid → back online: the time a customer feels from the `invoice.paid` delivery to access
// restored (backups unblocked, suspension lifted, servers started through the server-control
// port; the restore's email and Discord post may follow). Per payment rate (1, 10, 50/s): a batch
// of accounts climbs to `suspended` through the real HTTP service and worker processes on the
// Temporal dev server (ENFORCEMENT_MODE=enforce, recording adapters, a fast policy: final warning
// 1 s after overdue, suspension 1 s later); then every account is paid at that rate, open loop.
// The notification queues run at half the payment rate, so the batch's suspension emails and
// posts are still queued, behind each other, while most payments land: the herd case.
//
// Times come from the database: the webhook's answer is timed here, the transition to active is
// the `transition:active` row's createdAt, the lifts are the account's and its server's updatedAt
// (the recording server control starts a server by writing its power state: no hypervisor boot).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createPrisma } from '../src/platform/database.js';
import { WORKER_NODE_FLAGS } from '../src/platform/temporal/worker-factory.js';
import { projectRoot } from '../src/dev/toolchain.js';
import { simulatedEvent } from '../src/webhook/event-builders.js';
import {
  closedLoop,
  cpuMs,
  freePort,
  httpReady,
  latencySummary,
  postWebhook,
  progress,
  round,
  sampleRss,
  serviceEnv,
  sleep,
  spawnService,
  startDevServer,
  startPostgres,
  stripeDeliveryHeaders,
  tempDir,
  waitFor,
  WEBHOOK_SECRET,
  WORKER_READY,
  type ChildService,
} from './lib.js';

export interface PaidOptions {
  /** Payments per second, one phase each. */
  rates: number[];
  /** Seconds of payments per phase: rate × this many accounts. */
  windowSeconds: number;
  /** The notification queues' rate is half the payment rate, at least this (the quick run's climb). */
  minNotificationRate: number;
  timeoutMs: number;
  /**
   * The worker's WORKER_MAX_CACHED_WORKFLOWS. Default: every ladder of the phase, at least the
   * service's default (250): the runbook's sizing, a cache that holds the ladders a burst of
   * payments may reach. Smaller, a payment first replays its ladder's history.
   */
  workerCachedWorkflows?: number;
}

export const paidDefaults = (quick: boolean): PaidOptions =>
  quick
    ? { rates: [1, 10, 50], windowSeconds: 2, minNotificationRate: 5, timeoutMs: 2 * 60_000 }
    : { rates: [1, 10, 50], windowSeconds: 10, minNotificationRate: 0, timeoutMs: 10 * 60_000 };

const HOUR_S = 3600;

export async function runPaid(options: PaidOptions) {
  const tmp = tempDir('billing-bench-paid-');
  progress('paid: starting a throwaway PostgreSQL and the Temporal dev server');
  const pg = await startPostgres(tmp);
  const temporal = await startDevServer();
  const db = createPrisma(pg.databaseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const phases: Record<string, unknown> = {};
  try {
    for (const rate of options.rates) {
      // A phase that fails keeps the others' figures.
      phases[`${rate}PerSecond`] = await phase(rate).catch((error: unknown) => {
        progress(`paid: ${rate}/s failed: ${String(error)}`);
        return { error: String(error) };
      });
    }
  } finally {
    agent.destroy();
    await db.$disconnect();
    await temporal.teardown();
    await pg.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return {
    what: 'invoice.paid delivery → backups unblocked, suspension lifted, servers started (recording server control: no hypervisor boot)',
    setup:
      "dev server; src/worker.ts and src/api/main.ts as child processes, ENFORCEMENT_MODE=enforce, recording adapters, WORKER_MAX_CACHED_WORKFLOWS per phase (default: the phase's accounts, at least 250); policy: final warning 1 s after overdue, suspension 1 s later; notification queues at half the payment rate",
    targetP99Ms: 2000,
    ...phases,
  };

  async function phase(rate: number) {
    const accounts = Math.max(1, Math.round(rate * options.windowSeconds));
    const prefix = `paid_r${rate}`;
    const taskQueue = `billing-paid-r${rate}`;
    const notifyRate = Math.max(rate / 2, options.minNotificationRate);
    const cache = options.workerCachedWorkflows ?? Math.max(250, accounts);
    progress(`paid: ${rate}/s: ${accounts} accounts, notification queues at ${notifyRate}/s`);
    await db.billingAccount.createMany({
      data: Array.from({ length: accounts }, (_, i) => ({
        id: `${prefix}_${i}`,
        stripeCustomerId: `cus_${prefix}_${i}`,
        email: `${prefix}_${i}@customer.example.test`,
        name: 'Bench Customer',
      })),
    });
    await db.server.createMany({
      data: Array.from({ length: accounts }, (_, i) => ({
        accountId: `${prefix}_${i}`,
        vmid: 400_000 + rate * 10_000 + i,
        node: 'pve1',
        powerState: 'running',
      })),
    });
    const port = await freePort();
    const env = serviceEnv({
      databaseUrl: pg.databaseUrl,
      temporalAddress: temporal.address,
      taskQueue,
      extra: {
        LOG_LEVEL: 'info',
        HOST: '127.0.0.1',
        PORT: String(port),
        ENFORCEMENT_MODE: 'enforce',
        POLICY_FINAL_WARNING_AFTER_HOURS: String(1 / HOUR_S),
        POLICY_SUSPEND_AFTER_HOURS: String(2 / HOUR_S),
        POLICY_SUSPENSION_BREAKER_THRESHOLD: '1000000',
        POLICY_SHUTDOWN_TIMEOUT_SECONDS: '1',
        EMAIL_RATE_PER_SECOND: String(notifyRate),
        DISCORD_RATE_PER_SECOND: String(notifyRate),
        // Stopping the phase's worker must not wait for its queued notifications' slots.
        WORKER_SHUTDOWN_GRACE_SECONDS: '1',
        WORKER_MAX_CACHED_WORKFLOWS: String(cache),
      },
    });
    let worker: ChildService | undefined;
    let service: ChildService | undefined;
    let stopSampling: (() => { peakMb: number; lastMb: number | null }) | undefined;
    try {
      worker = await spawnService(
        path.join(projectRoot, 'src/worker.ts'),
        env,
        WORKER_READY,
        120_000,
        [],
        WORKER_NODE_FLAGS,
      );
      const rss = sampleRss(worker.pid);
      stopSampling = () => rss.stop();
      service = await spawnService(
        path.join(projectRoot, 'src/api/main.ts'),
        { ...env, LOG_LEVEL: 'warn' },
        httpReady(port),
      );
      const created = Math.floor(Date.now() / 1000) - 60;
      const deliver = (kind: 'payment-failed' | 'paid', i: number, createdAt: number) => {
        const body = JSON.stringify(
          simulatedEvent(kind, {
            customer: `cus_${prefix}_${i}`,
            invoiceId: `in_${prefix}_${i}`,
            amount: 2500,
            currency: 'usd',
            created: createdAt,
          }),
        );
        return postWebhook(agent, port, body, stripeDeliveryHeaders(body, WEBHOOK_SECRET));
      };
      const failed = await closedLoop(
        accounts,
        16,
        async (i) => (await deliver('payment-failed', i, created)).status === 200,
      );
      if (failed.failed > 0) throw new Error(`${failed.failed} payment_failed deliveries were refused`);

      const all = Array.from({ length: accounts }, (_, i) => `${prefix}_${i}`);
      const suspendedWhere = {
        id: { in: all },
        state: 'suspended' as const,
        servers: { every: { billingSuspended: true } },
      };
      let lastReport = 0;
      const suspended = await waitFor(
        () =>
          db.billingAccount.count({
            where: suspendedWhere,
          }),
        (n) => n >= accounts,
        {
          timeoutMs: options.timeoutMs,
          everyMs: 250,
          onPoll: (n) => {
            if (Date.now() - lastReport > 10_000) {
              lastReport = Date.now();
              progress(`paid: ${rate}/s: ${n} of ${accounts} suspended`);
            }
          },
        },
      );
      // On an overloaded machine a few ladders may lag: the ones suspended by now are paid.
      const ids = suspended.met
        ? all
        : (await db.billingAccount.findMany({ where: suspendedWhere, select: { id: true } })).map(
            (a) => a.id,
          );
      if (ids.length === 0) throw new Error(`no account of ${accounts} reached suspended`);
      const queuedAtFirstPayment = await queuedSuspensionNotices(ids);

      progress(`paid: ${rate}/s: every account suspended; paying them at ${rate}/s`);
      const cpuBefore = { worker: cpuMs(worker.pid), service: cpuMs(service.pid) };
      const sent: { id: string; at: number; answeredAt: number; status: number }[] = [];
      const start = Date.now();
      const paidAt = Math.floor(Date.now() / 1000);
      await Promise.all(
        ids.map(async (id, i) => {
          await sleep(Math.max(0, start + (i * 1000) / rate - Date.now()));
          const at = Date.now();
          const { status } = await deliver('paid', Number(id.slice(prefix.length + 1)), paidAt);
          sent.push({ id, at, answeredAt: Date.now(), status });
        }),
      );
      const refused = sent.filter((s) => s.status !== 200).length;
      if (refused > 0) throw new Error(`${refused} invoice.paid deliveries were refused`);

      const restored = await waitFor(
        () =>
          db.billingAccount.count({
            where: {
              id: { in: ids },
              state: 'active',
              backupsBlocked: false,
              servers: { every: { billingSuspended: false, powerState: 'running' } },
            },
          }),
        (n) => n >= ids.length,
        { timeoutMs: options.timeoutMs, everyMs: 250 },
      );
      if (!restored.met) throw new Error(`only ${restored.value} of ${ids.length} accounts were restored`);
      const perPayment = (after: number | null, before: number | null) =>
        after === null || before === null ? null : round((after - before) / ids.length, 2);
      // Up to the last restore: the restores' emails and posts still queued are not counted.
      const cpuPerPaymentMs = {
        worker: perPayment(cpuMs(worker.pid), cpuBefore.worker),
        service: perPayment(cpuMs(service.pid), cpuBefore.service),
      };
      const workerRss = stopSampling?.();

      const rows = await db.billingAccount.findMany({
        where: { id: { in: ids } },
        select: { id: true, updatedAt: true, servers: { select: { updatedAt: true } } },
      });
      const transitions = await db.billingEnforcementEvent.findMany({
        where: { accountId: { in: ids }, kind: 'transition:active' },
        select: { accountId: true, createdAt: true },
      });
      // An account whose suspension email never went out: the payment came while it was queued.
      const suspensionEmails = new Set(
        (
          await db.notification.findMany({
            where: { accountId: { in: ids }, channel: 'email', template: 'suspended' },
            select: { accountId: true },
          })
        ).map((n) => n.accountId),
      );
      const byId = new Map(rows.map((r) => [r.id, r]));
      const activeAt = new Map(transitions.map((t) => [t.accountId, t.createdAt.getTime()]));
      const total: number[] = [];
      const whileQueued: number[] = [];
      const webhook: number[] = [];
      const toTransition: number[] = [];
      const toLifted: number[] = [];
      for (const s of sent) {
        const row = byId.get(s.id)!;
        const lifted = Math.max(row.updatedAt.getTime(), ...row.servers.map((x) => x.updatedAt.getTime()));
        const active = activeAt.get(s.id) ?? lifted;
        total.push(lifted - s.at);
        if (!suspensionEmails.has(s.id)) whileQueued.push(lifted - s.at);
        webhook.push(s.answeredAt - s.at);
        toTransition.push(active - s.answeredAt);
        toLifted.push(lifted - active);
      }
      const backOnline = latencySummary(total);
      progress(
        `paid: ${rate}/s: back online p50 ${backOnline.p50} ms, p99 ${backOnline.p99} ms; ${whileQueued.length} of ${ids.length} paid while their suspension email was queued`,
      );
      // The restore's own email and post are still queued: they go nowhere once this phase's
      // worker stops (the next phase has its own queues), so they load no other phase.
      return {
        accounts,
        workerCachedWorkflows: cache,
        paid: ids.length,
        paymentsPerSecond: rate,
        achievedPaymentsPerSecond: round(
          ids.length / Math.max(0.001, (sent.at(-1)!.at - start) / 1000 + 1 / rate),
          1,
        ),
        notificationRatePerSecond: notifyRate,
        suspensionNotificationsQueuedAtFirstPayment: queuedAtFirstPayment,
        paidWhileSuspensionEmailQueued: whileQueued.length,
        backOnlineMs: backOnline,
        backOnlineWhileQueuedMs: whileQueued.length ? latencySummary(whileQueued) : null,
        p99Met: backOnline.p99 < 2000,
        cpuPerPaymentMs,
        workerRssPeakMb: workerRss?.peakMb ?? null,
        whereTheTimeGoesMs: {
          webhookAnswered: latencySummary(webhook),
          answeredToTransitionActive: latencySummary(toTransition),
          transitionToLifted: latencySummary(toLifted),
        },
      };
    } finally {
      stopSampling?.();
      await service?.stop();
      await worker?.stop();
    }
  }

  /** Accounts of the batch whose suspension email has not gone out yet. */
  async function queuedSuspensionNotices(ids: string[]) {
    const done = await db.notification.count({
      where: { accountId: { in: ids }, channel: 'email', template: 'suspended' },
    });
    return ids.length - done;
  }
}
