// Webhook ingest: distinct signed `invoice.payment_failed` events through the whole path (the
// real HTTP service process, signature check, event log, account lock, signalWithStart) against
// a bare signalWithStart loop on the same Temporal dev server, at the same concurrency; then the
// redelivery of events already processed (Stripe retries, duplicates).
//
// No worker runs: both paths only start workflows, and a worker would run their first
// activities against the same PostgreSQL and Temporal server while we measure, loading one path
// more than the other depending on when its workflows were started.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { DEFAULT_DATABASE_POOL_MAX, loadConfig } from '../src/platform/config.js';
import { createPrisma } from '../src/platform/database.js';
import { simulatedEvent } from '../src/webhook/event-builders.js';
import { projectRoot } from '../src/dev/toolchain.js';
import { type billingEnforcementWorkflow } from '../src/workflows/billing-enforcement.js';
import { paymentFailedSignal, workflowIdFor, type PaymentFailed } from '../src/workflows/definitions.js';
import {
  closedLoop,
  cpuMs,
  freePort,
  httpReady,
  latencySummary,
  postWebhook,
  progress,
  round,
  serviceEnv,
  spawnService,
  startDevServer,
  startPostgres,
  stripeDeliveryHeaders,
  tempDir,
  type ChildService,
  type Postgres,
  WEBHOOK_SECRET,
} from './lib.js';

const TASK_QUEUE = 'billing-enforcement';

export interface WebhookIngestOptions {
  /** New events measured per path (split in `rounds` alternating rounds). */
  events: number;
  rounds: number;
  concurrency: number;
  warmup: number;
  /** Also measure with a pool of 10 (the full run; quick runs only the production pool). */
  narrowPool: boolean;
}

export const webhookIngestDefaults = (quick: boolean): WebhookIngestOptions =>
  quick
    ? { events: 600, rounds: 5, concurrency: 16, warmup: 50, narrowPool: false }
    : { events: 4000, rounds: 8, concurrency: 16, warmup: 300, narrowPool: true };

export async function runWebhookIngest(options: WebhookIngestOptions) {
  const { events, concurrency, warmup } = options;
  const tmp = tempDir('billing-bench-webhook-');
  let pg: Postgres | undefined;
  let service: ChildService | undefined;
  const temporal = await (async () => {
    progress('webhook: starting a throwaway PostgreSQL and the Temporal dev server');
    pg = await startPostgres(tmp);
    return startDevServer();
  })();
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const db = createPrisma(pg!.databaseUrl);
  try {
    const total = 2 * (warmup + events);
    progress(`webhook: seeding ${total} accounts with Stripe customer ids`);
    for (let start = 0; start < total; start += 2000) {
      const ids = Array.from({ length: Math.min(2000, total - start) }, (_, i) => start + i);
      await db.billingAccount.createMany({
        data: ids.map((i) => ({ id: `bench_wh_${i}`, stripeCustomerId: `cus_bench_wh_${i}` })),
      });
    }

    const policy = loadConfig(
      serviceEnv({ databaseUrl: pg!.databaseUrl, temporalAddress: temporal.address, taskQueue: TASK_QUEUE }),
    ).policy;
    const statuses = new Map<number, number>();
    const bare = (prefix: string) => (i: number) =>
      temporal.client.workflow
        .signalWithStart<typeof billingEnforcementWorkflow, [PaymentFailed]>('billingEnforcementWorkflow', {
          workflowId: workflowIdFor(`${prefix}_${i}`),
          taskQueue: TASK_QUEUE,
          args: [{ accountId: `${prefix}_${i}`, policy, publishSearchAttributes: true }],
          signal: paymentFailedSignal,
          signalArgs: [
            {
              invoiceId: `in_${prefix}_${i}`,
              eventId: `evt_${prefix}_${i}`,
              at: new Date().toISOString(),
              amountDue: 2500,
              currency: 'usd',
            },
          ],
          staticSummary: `Billing enforcement for ${prefix}_${i}`,
        })
        .then(() => true);

    /** One HTTP service process with a pool of `pool` connections, on its own accounts. */
    async function variant(pool: number, first: number, withDuplicates: boolean) {
      const port = await freePort();
      const env = serviceEnv({
        databaseUrl: pg!.databaseUrl,
        temporalAddress: temporal.address,
        taskQueue: TASK_QUEUE,
        extra: {
          HOST: '127.0.0.1',
          PORT: String(port),
          BENCH_DB_POOL: String(pool),
          // e.g. --cpu-prof to profile the service (bench/README.md)
          ...(process.env.BENCH_SERVICE_NODE_OPTIONS
            ? { NODE_OPTIONS: process.env.BENCH_SERVICE_NODE_OPTIONS }
            : {}),
        },
      });
      progress(`webhook: starting the HTTP service (buildServer, LOG_LEVEL=warn, PostgreSQL pool ${pool})`);
      service = await spawnService(path.join(projectRoot, 'bench/webhook-service.ts'), env, httpReady(port));
      const bodies = Array.from({ length: warmup + events }, (_, i) =>
        JSON.stringify(simulatedEvent('payment-failed', { customer: `cus_bench_wh_${first + i}` })),
      );
      // Signed at send time, as Stripe does (the signature's timestamp must be recent).
      const post = (body: string) =>
        postWebhook(agent, port, body, stripeDeliveryHeaders(body, WEBHOOK_SECRET));
      const webhook = (offset: number) => async (i: number) => {
        const { status } = await post(bodies[offset + i]!);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        return status === 200;
      };

      progress(`webhook: warm-up, ${warmup} events on each path`);
      await closedLoop(warmup, concurrency, webhook(0));
      await closedLoop(warmup, concurrency, bare(`bench_bare_p${pool}_warm`));

      // Alternating rounds, so neither path gets all of the emptier (or warmer) server; the
      // ratio is the median of the rounds' ratios (a noisy neighbour spoils a round, not the run).
      const size = Math.floor(events / options.rounds);
      const rounds: { path: 'webhook' | 'bare'; result: Awaited<ReturnType<typeof closedLoop>> }[] = [];
      // CPU spent by the HTTP service process on the new events, and by this process (the
      // Temporal client) on the bare calls: on a small machine the paths compete for CPU.
      let serviceCpu = 0;
      let bareCpu = 0;
      for (let r = 0; r < options.rounds; r++) {
        const offset = warmup + r * size;
        progress(
          `webhook: round ${r + 1}: ${size} new events through POST /webhooks/stripe, ${concurrency} at a time`,
        );
        const cpu0 = cpuMs(service.pid) ?? 0;
        rounds.push({ path: 'webhook', result: await closedLoop(size, concurrency, webhook(offset)) });
        serviceCpu += (cpuMs(service.pid) ?? 0) - cpu0;
        progress(`webhook: round ${r + 1}: ${size} bare signalWithStart calls, ${concurrency} at a time`);
        const own0 = process.cpuUsage();
        rounds.push({
          path: 'bare',
          result: await closedLoop(size, concurrency, bare(`bench_bare_p${pool}_r${r}`)),
        });
        const own = process.cpuUsage(own0);
        bareCpu += (own.user + own.system) / 1000;
      }
      const combine = (which: 'webhook' | 'bare') => {
        const parts = rounds.filter((x) => x.path === which).map((x) => x.result);
        const ok = parts.reduce((n, p) => n + p.ok, 0);
        const seconds = parts.reduce((n, p) => n + p.seconds, 0);
        return {
          events: parts.reduce((n, p) => n + p.count, 0),
          ok,
          failed: parts.reduce((n, p) => n + p.failed, 0),
          seconds: round(seconds, 2),
          throughputPerSecond: round(ok / seconds, 1),
          latencyMs: latencySummary(parts.flatMap((p) => p.latencies)),
          roundsPerSecond: parts.map((p) => p.throughputPerSecond),
        };
      };
      const newPath = combine('webhook');
      const barePath = combine('bare');
      const roundRatios = newPath.roundsPerSecond.map((w, i) => round(w / barePath.roundsPerSecond[i]!, 3));
      const sorted = [...roundRatios].sort((a, b) => a - b);
      const mid = Math.floor(sorted.length / 2);
      const ratio = round(sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2, 3);
      const overall = round(newPath.throughputPerSecond / barePath.throughputPerSecond, 3);
      progress(
        `webhook: pool ${pool}: webhook ${newPath.throughputPerSecond}/s, bare ${barePath.throughputPerSecond}/s, ratio (median of rounds ${roundRatios.join(', ')}) ${ratio}, overall ${overall}`,
      );

      let duplicates;
      if (withDuplicates) {
        progress(
          `webhook: redelivering the ${events} processed events (duplicates), ${concurrency} at a time`,
        );
        const outcomes = new Map<string, number>();
        const d = await closedLoop(size * options.rounds, concurrency, async (i) => {
          const { status, text } = await post(bodies[warmup + i]!);
          const outcome =
            status === 200 ? ((JSON.parse(text) as { status?: string }).status ?? '?') : String(status);
          outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
          return status === 200;
        });
        const speedup = round(d.throughputPerSecond / newPath.throughputPerSecond, 2);
        progress(`webhook: duplicates ${d.throughputPerSecond}/s, ${speedup}× the new-event path`);
        duplicates = {
          events: size * options.rounds,
          ok: d.ok,
          failed: d.failed,
          seconds: d.seconds,
          throughputPerSecond: d.throughputPerSecond,
          latencyMs: d.latencyMs,
          outcomes: Object.fromEntries(outcomes),
          speedupOverNewEvents: speedup,
          speedupTarget: 5,
          speedupMet: speedup >= 5,
        };
      }
      await service.stop();
      service = undefined;
      return {
        dbPool: pool,
        webhookNewEvents: { ...newPath, serviceCpuMsPerEvent: round(serviceCpu / newPath.events, 2) },
        bareSignalWithStart: { ...barePath, clientCpuMsPerCall: round(bareCpu / barePath.events, 2) },
        ratio,
        roundRatios,
        ratioOverall: overall,
        ratioTarget: 0.8,
        ratioMet: ratio >= 0.8,
        ...(duplicates ? { duplicates } : {}),
      };
    }

    // The production default pool first (DATABASE_POOL_MAX), then a narrower one: the ingest
    // holds its connection (the account lock's transaction) across signalWithStart, so the pool
    // caps how many starts are in flight.
    const production = await variant(DEFAULT_DATABASE_POOL_MAX, 0, true);
    const narrowPool = options.narrowPool ? await variant(10, warmup + events, false) : 'not run (quick)';

    const logged = await db.stripeEventLog.groupBy({ by: ['status'], _count: true });
    const redelivered = await db.stripeEventLog.count({ where: { attempts: 2 } });
    const workflows = await temporal.client.workflow.count('WorkflowType = "billingEnforcementWorkflow"');
    return {
      concurrency,
      workerRunning: false,
      httpServiceLogLevel: 'warn',
      production,
      narrowPool,
      httpStatuses: Object.fromEntries(statuses),
      checks: {
        eventLog: Object.fromEntries(logged.map((g) => [g.status, g._count])),
        eventsDeliveredTwice: redelivered,
        workflowsOnServer: workflows.count,
      },
    };
  } finally {
    agent.destroy();
    await service?.stop();
    await db.$disconnect();
    await temporal.teardown();
    await pg?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
