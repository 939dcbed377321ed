// The Temporal dev server (persisted to a file) is stopped and started again on the same file and
// port, twice, while ladders with a seconds-long policy wait on their timers. The worker is the
// production one in its own process and is never restarted. Every timer must fire, every
// ladder must reach the deletion review and, once paid, complete.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createPrisma } from '../../src/platform/database.js';
import { freePort } from '../../src/dev/embedded-postgres.js';
import { temporalCliExecutable } from '../../src/dev/toolchain.js';
import { createLadderClient } from '../../src/ladder/client.js';
import { type billingEnforcementWorkflow } from '../../src/workflows/billing-enforcement.js';
import {
  invoiceSettledSignal,
  SEARCH_ATTRIBUTES,
  workflowIdFor,
  type EnforcementPolicy,
} from '../../src/workflows/definitions.js';
import { sleep, startWorkerProcess, workerEnv, type Child } from './support/processes.js';
import { seedAccountWithOpenInvoice } from './support/seed.js';

const LADDERS = 20;
const SECOND = 1000;
const policy: EnforcementPolicy = {
  version: 'faults-temporal-restart',
  finalWarningAfterMs: 25 * SECOND,
  suspendAfterMs: 50 * SECOND,
  retainAfterMs: 75 * SECOND,
  retentionMs: 20 * SECOND,
  restartServersOnRestore: true,
  dryRun: false,
  minAmountDueCents: 100,
  suspensionBreaker: { threshold: 1000, windowMs: 3_600_000 },
  shutdownTimeoutMs: SECOND,
};

describe('Temporal dev server restarted while ladders wait on timers', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'billing-faults-temporal-'));
  const db = createPrisma(inject('databaseUrl'), { max: 4 });
  let env: TestWorkflowEnvironment | undefined;
  let worker: Child | undefined;
  afterAll(async () => {
    await worker?.stop();
    await env?.teardown();
    await db.$disconnect();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('every timer fires and every ladder completes', async () => {
    try {
      Runtime.install({ logger: new DefaultLogger('ERROR') });
    } catch {
      // installed by an earlier file in this process
    }
    const port = await freePort();
    const dbFilename = path.join(tmp, 'temporal.sqlite');
    const startServer = () =>
      TestWorkflowEnvironment.createLocal({
        server: {
          executable: temporalCliExecutable(),
          searchAttributes: SEARCH_ATTRIBUTES,
          dbFilename,
          port,
        },
      });
    env = await startServer();
    const taskQueue = `faults-restart-${randomUUID().slice(0, 8)}`;
    worker = await startWorkerProcess(
      workerEnv({ databaseUrl: inject('databaseUrl'), temporalAddress: `127.0.0.1:${port}`, taskQueue }),
    );

    const run = randomUUID().slice(0, 6);
    const accounts = Array.from({ length: LADDERS }, (_, i) => `restart_${run}_${i}`);
    const ladder = createLadderClient({
      client: env.client,
      taskQueue,
      policy,
      publishSearchAttributes: true,
    });
    for (const id of accounts) {
      await seedAccountWithOpenInvoice(db, id);
      await ladder.paymentFailed(id, {
        invoiceId: `in_${id}`,
        eventId: `evt_${id}`,
        at: new Date().toISOString(),
        amountDue: 2500,
      });
    }
    const countKind = (kind: string) =>
      db.billingEnforcementEvent.count({ where: { accountId: { in: accounts }, kind } });
    const waitForKind = async (kind: string, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      while ((await countKind(kind)) < LADDERS && Date.now() < deadline) await sleep(500);
      return countKind(kind);
    };
    expect(await waitForKind('transition:overdue', 60_000)).toBe(LADDERS);

    // Down for 10 s while every ladder waits for its final-warning timer; then again before
    // the suspension timers.
    const restarts: number[] = [];
    for (const downMs of [10_000, 15_000]) {
      await env.teardown();
      env = undefined;
      const stoppedAt = Date.now();
      await sleep(downMs);
      env = await startServer();
      restarts.push(Date.now() - stoppedAt);
      process.stderr.write(`[faults] Temporal dev server down for ${Date.now() - stoppedAt} ms\n`);
      await sleep(12_000);
    }

    const reviewDue = await waitForKind('deletion_review_due', 6 * 60_000);
    for (const id of accounts) {
      await env.client.workflow.getHandle(workflowIdFor(id)).signal(invoiceSettledSignal, {
        invoiceId: `in_${id}`,
        how: 'paid',
        eventId: `evt_paid_${id}`,
        at: new Date().toISOString(),
      });
    }
    const results = await Promise.all(
      accounts.map((id) =>
        env!.client.workflow
          .getHandle<typeof billingEnforcementWorkflow>(workflowIdFor(id))
          .result()
          .catch(() => null),
      ),
    );
    const completed = results.filter((r) => r?.outcome === 'restored').length;
    const fired = {
      final_warning: await countKind('transition:final_warning'),
      suspended: await countKind('transition:suspended'),
      retained: await countKind('transition:retained'),
      deletion_review_due: reviewDue,
    };
    process.stderr.write(
      `[faults] Temporal restarts (${restarts.join(' ms, ')} ms down): timers fired ${JSON.stringify(fired)} of ${LADDERS} each; ladders completed ${completed} of ${LADDERS}\n`,
    );
    expect(Object.values(fired)).toEqual([LADDERS, LADDERS, LADDERS, LADDERS]);
    expect(completed).toBe(LADDERS);
  });
});
