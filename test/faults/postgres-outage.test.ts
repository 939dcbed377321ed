// PostgreSQL stopped for 30 s in the middle of a webhook storm. The sender behaves like Stripe:
// every non-2xx (or refused connection) is redelivered after a backoff, and some events are
// delivered twice anyway. Afterwards every event has had its effect exactly once: one
// `processed` row per event, failures = 1 per invoice in the ladder's status query.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { recordingActivityDeps } from '../../src/activities/deps.js';
import { createActivities } from '../../src/activities/index.js';
import { loadConfig } from '../../src/config/env.js';
import { createPrisma, type PrismaClient } from '../../src/db/client.js';
import { freePort } from '../../src/dev/embedded-postgres.js';
import { postWebhook, stripeDeliveryHeaders } from '../../bench/lib.js';
import { buildServer } from '../../src/http/server.js';
import { createLogger } from '../../src/logger.js';
import { simulatedEvent } from '../../src/stripe/event-builders.js';
import { createLadderClient } from '../../src/temporal/ladder-client.js';
import { projectRoot, temporalCliExecutable } from '../../src/toolchain/toolchain.js';
import { SEARCH_ATTRIBUTES, statusQuery, workflowIdFor } from '../../src/workflows/definitions.js';
import {
  ADMIN_TOKEN,
  INTERNAL_TOKEN,
  sleep,
  startPostgresProcess,
  WEBHOOK_SECRET,
  type PostgresProcess,
} from './support/processes.js';

const EVENTS = 300;
const OUTAGE_MS = 30_000;
const CONCURRENCY = 16;

describe('PostgreSQL stopped for 30 s during a webhook storm', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'billing-faults-pg-'));
  fs.chmodSync(tmp, 0o755);
  let pgPort: number;
  let pg: PostgresProcess | undefined;
  let env: TestWorkflowEnvironment;
  let db: PrismaClient;
  let app: FastifyInstance;
  let worker: Worker;
  let workerRun: Promise<void>;
  const taskQueue = 'faults-pg-outage';

  beforeAll(async () => {
    try {
      Runtime.install({ logger: new DefaultLogger('ERROR') });
    } catch {
      // installed by an earlier file in this process
    }
    pgPort = await freePort();
    pg = await startPostgresProcess(path.join(tmp, 'pg'), pgPort);
    execFileSync(path.join(projectRoot, 'node_modules', '.bin', 'prisma'), ['migrate', 'deploy'], {
      cwd: projectRoot,
      env: { ...process.env, DATABASE_URL: pg.databaseUrl },
      stdio: 'ignore',
    });
    env = await TestWorkflowEnvironment.createLocal({
      server: { executable: temporalCliExecutable(), searchAttributes: SEARCH_ATTRIBUTES },
    });
    db = createPrisma(pg.databaseUrl);
    const logger = createLogger('silent');
    const deps = recordingActivityDeps(db, logger, {
      temporalUiUrl: 'http://localhost:8233',
      temporalNamespace: 'default',
      portalUrl: 'https://portal.example.test',
    });
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: { codePath: inject('workflowBundlePath') },
      activities: createActivities(deps),
    });
    workerRun = worker.run();
    const config = loadConfig({
      DATABASE_URL: pg.databaseUrl,
      INTERNAL_API_TOKEN: INTERNAL_TOKEN,
      ADMIN_TOKEN,
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      TEMPORAL_TASK_QUEUE: taskQueue,
      LOG_LEVEL: 'silent',
    });
    app = buildServer({
      config,
      db,
      temporal: env.client,
      logger,
      ladder: createLadderClient({
        client: env.client,
        taskQueue,
        policy: config.policy,
        publishSearchAttributes: true,
      }),
      activityDeps: deps,
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    try {
      await app?.close();
      worker?.shutdown();
      // A worker still retrying activities must not keep this PostgreSQL alive past the test.
      await Promise.race([workerRun, sleep(20_000)]);
      await db?.$disconnect();
      await env?.teardown();
    } finally {
      await pg?.stop();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('no event lost, none applied twice', async () => {
    const port = (app.server.address() as { port: number }).port;
    const accounts = Array.from({ length: EVENTS }, (_, i) => `pgout_${i}`);
    await db.billingAccount.createMany({
      data: accounts.map((id) => ({ id, stripeCustomerId: `cus_${id}` })),
    });
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
