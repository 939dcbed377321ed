// PostgreSQL stopped for 30 s in the middle of a webhook storm. The HTTP service and the worker
// are the real processes (src/api/main.ts, src/worker.ts), as deployed. The sender behaves like
// Stripe: every non-2xx (or refused connection) is redelivered after a backoff, and some events
// are delivered twice anyway. Afterwards every event has had its effect exactly once: one
// `processed` row per event, failures = 1 per invoice in the ladder's status query; and both
// processes are still running (a dropped database connection must not take them down).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  httpReady,
  postWebhook,
  spawnService,
  startDevServer,
  stripeDeliveryHeaders,
} from '../../bench/lib.js';
import { createPrisma, type PrismaClient } from '../../src/platform/database.js';
import { freePort } from '../../src/dev/embedded-postgres.js';
import { simulatedEvent } from '../../src/webhook/event-builders.js';
import { projectRoot } from '../../src/dev/toolchain.js';
import { statusQuery, workflowIdFor } from '../../src/workflows/definitions.js';
import {
  sleep,
  startPostgresProcess,
  startWorkerProcess,
  WEBHOOK_SECRET,
  workerEnv,
  type Child,
  type PostgresProcess,
} from './support/processes.js';

const EVENTS = 300;
const OUTAGE_MS = 30_000;
const CONCURRENCY = 16;

describe('PostgreSQL stopped for 30 s during a webhook storm', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'billing-faults-pg-'));
  let pgPort: number;
  let httpPort: number;
  let pg: PostgresProcess | undefined;
  let env: TestWorkflowEnvironment;
  let worker: Child | undefined;
  let service: Child | undefined;
  const taskQueue = 'faults-pg-outage';

  beforeAll(async () => {
    pgPort = await freePort();
    pg = await startPostgresProcess(path.join(tmp, 'pg'), pgPort);
    execFileSync(path.join(projectRoot, 'node_modules', '.bin', 'prisma'), ['migrate', 'deploy'], {
      cwd: projectRoot,
      env: { ...process.env, DATABASE_URL: pg.databaseUrl, MIGRATION_DATABASE_URL: pg.databaseUrl },
      stdio: 'ignore',
    });
    env = await startDevServer();
    const processEnv = (extra: Record<string, string> = {}) =>
      workerEnv({ databaseUrl: pg!.databaseUrl, temporalAddress: env.address, taskQueue, extra });
    // info: the readiness line "worker polling" is an info line.
    worker = await startWorkerProcess(processEnv());
    httpPort = await freePort();
    service = await spawnService(
      path.join(projectRoot, 'src', 'api', 'main.ts'),
      processEnv({ HOST: '127.0.0.1', PORT: String(httpPort), LOG_LEVEL: 'warn' }),
      httpReady(httpPort),
    );
  });
  afterAll(async () => {
    try {
      await service?.stop();
      await worker?.stop();
      await env?.teardown();
    } finally {
      await pg?.stop();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('no event lost, none applied twice; the service and the worker stay up', async () => {
    const port = httpPort;
    const accounts = Array.from({ length: EVENTS }, (_, i) => `pgout_${i}`);
    // This process holds no database connection while PostgreSQL is down: only the service's
    // and the worker's connections meet the outage.
    const seed: PrismaClient = createPrisma(pg!.databaseUrl);
    await seed.billingAccount.createMany({
      data: accounts.map((id) => ({ id, stripeCustomerId: `cus_${id}` })),
    });
    await seed.$disconnect();
    const events = accounts.map((id) => simulatedEvent('payment-failed', { customer: `cus_${id}` }));

    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    // A refused or reset connection is a failed delivery (status 0), as for Stripe.
    const post = async (body: string) =>
      (await postWebhook(agent, port, body, stripeDeliveryHeaders(body, WEBHOOK_SECRET))).status;

    const statuses = new Map<number, number>();
    let attempts = 0;
    let extraDeliveries = 0;
    /** Stripe: redeliver every non-2xx after a growing backoff (compressed from hours to seconds). */
    const deliver = async (body: string) => {
      for (let attempt = 0; ; attempt++) {
        attempts++;
        const status = await post(body);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status >= 200 && status < 300) return;
        await sleep(Math.min(5000, 250 * 2 ** attempt));
      }
    };

    let next = 0;
    const storm = Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (;;) {
          const i = next++;
          if (i >= events.length) return;
          const body = JSON.stringify(events[i]);
          await deliver(body);
          // Stripe may deliver an event more than once even after a 2xx.
          if (i % 10 === 0) {
            extraDeliveries++;
            await deliver(body);
          }
          await sleep(20);
        }
      }),
    );

    // Stop PostgreSQL once the storm is under way, keep it down 30 s, start it on the same data.
    while (next < EVENTS / 4) await sleep(50);
    await pg!.stop();
    const stoppedAt = Date.now();
    process.stderr.write(`[faults] PostgreSQL stopped after ${next} events were taken up\n`);
    await sleep(OUTAGE_MS);
    pg = await startPostgresProcess(path.join(tmp, 'pg'), pgPort);
    process.stderr.write(`[faults] PostgreSQL started again after ${Date.now() - stoppedAt} ms\n`);
    await storm;
    agent.destroy();
    const db = createPrisma(pg.databaseUrl);

    const processed = await db.stripeEventLog.count({ where: { status: 'processed' } });
    const byStatus = await db.stripeEventLog.groupBy({ by: ['status'], _count: true });
    const lost = events.length - processed;

    // Exactly once: one paymentFailed signal in each ladder's history, and failures = 1.
    let duplicatedSignals = 0;
    let wrongFailureCounts = 0;
    let missingLadders = 0;
    for (const id of accounts) {
      const handle = env.client.workflow.getHandle(workflowIdFor(id));
      const history = await handle.fetchHistory().catch(() => null);
      if (!history) {
        missingLadders++;
        continue;
      }
      const signals = (history.events ?? []).filter(
        (e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'paymentFailed',
      ).length;
      if (signals > 1) duplicatedSignals += signals - 1;
      const status = await handle.query(statusQuery);
      if (status.openInvoices.length !== 1 || status.openInvoices[0]!.failures !== 1) wrongFailureCounts++;
    }
    const summary = Object.fromEntries([...statuses].sort());
    process.stderr.write(
      `[faults] PG outage: lost ${lost}, applied twice ${wrongFailureCounts}, of ${EVENTS} ` +
        `(paymentFailed signals delivered twice ${duplicatedSignals}, ignored by the workflow as repeats; ` +
        `${attempts} deliveries incl. ${extraDeliveries} deliberate repeats; HTTP statuses ${JSON.stringify(summary)}; ` +
        `event log ${JSON.stringify(Object.fromEntries(byStatus.map((g) => [g.status, g._count])))}; ` +
        `ladders missing ${missingLadders}, wrong failure counts ${wrongFailureCounts})\n`,
    );

    const survived = (child: Child | undefined) => child?.child.exitCode === null && !child.child.signalCode;
    const reconnects = (child: Child | undefined) =>
      (child?.output().match(/PostgreSQL closed a connection/g) ?? []).length;
    process.stderr.write(
      `[faults] PG outage: HTTP service ${survived(service) ? 'still running' : 'EXITED'} ` +
        `(${reconnects(service)} dropped connections logged in its last output), worker ` +
        `${survived(worker) ? 'still running' : 'EXITED'} (${reconnects(worker)})\n`,
    );
    // What the 5xx answers were, by the dependency the service blamed (none: a 500).
    const failures = new Map<string, number>();
    for (const line of service?.output().split('\n') ?? []) {
      if (!line.includes('stripe event not applied')) continue;
      try {
        const entry = JSON.parse(line) as { dependency?: string | null; err?: string };
        const key = `${entry.dependency ?? 'none (500)'}: ${(entry.err ?? '').slice(0, 80)}`;
        failures.set(key, (failures.get(key) ?? 0) + 1);
      } catch {
        /* not a log line */
      }
    }
    process.stderr.write(
      `[faults] PG outage: not applied, by cause: ${JSON.stringify(Object.fromEntries(failures))}\n`,
    );
    await db.$disconnect();

    expect(survived(service)).toBe(true);
    expect(survived(worker)).toBe(true);
    expect(lost).toBe(0);
    expect(missingLadders).toBe(0);
    // A commit that fails after signalWithStart leaves the event unfinished: its redelivery
    // signals again with the same event id, which the workflow ignores. The effect is once.
    expect(wrongFailureCounts).toBe(0);
    // Every failure answer makes Stripe retry (5xx, or no answer while nothing listened).
    const unexpected = [...statuses.keys()].filter((s) => s !== 200 && s < 500 && s !== 0);
    expect(unexpected).toEqual([]);
    expect(statuses.get(503) ?? 0).toBeGreaterThan(0);
  });
});
