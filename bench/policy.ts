// Launch day at scale: N ladders started in dry-run on the Temporal dev server with a real worker
// process (src/worker.ts, recording adapters), then `billing policy plan` and `billing policy
// apply` (src/ladder/policy-rollout.ts, what the CLI and the admin API run) moving every one of
// them to enforce, and a second apply that must find them all current. Measures the time and the
// failures of each, and the time until every ladder's real notice is recorded.
import fs from 'node:fs';
import path from 'node:path';
import { applyRollout, listLadders, planRollout } from '../src/ladder/policy-rollout.js';
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
  serviceEnv,
  spawnService,
  startDevServer,
  startPostgres,
  tempDir,
  waitFor,
  WORKER_READY,
  type ChildService,
} from './lib.js';

const TASK_QUEUE = 'billing-enforcement';

export interface PolicyBenchOptions {
  ladders: number;
  /** Ladders asked at once by plan and apply (the CLI's default is 16). */
  concurrency: number;
  timeoutMs: number;
}

export const policyDefaults = (quick: boolean): PolicyBenchOptions =>
  quick
    ? { ladders: 200, concurrency: 16, timeoutMs: 5 * 60_000 }
    : { ladders: 2000, concurrency: 16, timeoutMs: 30 * 60_000 };

export async function runPolicy(options: PolicyBenchOptions) {
  const { ladders, concurrency } = options;
  const tmp = tempDir('billing-bench-policy-');
  let worker: ChildService | undefined;
  progress('policy: starting a throwaway PostgreSQL and the Temporal dev server');
  const pg = await startPostgres(tmp);
  const temporal = await startDevServer();
  const db = createPrisma(pg.databaseUrl);
  const id = (i: number) => `bench_pol_${i}`;
  try {
    progress(`policy: seeding ${ladders} accounts`);
    for (let start = 0; start < ladders; start += 2000) {
      const ids = Array.from({ length: Math.min(2000, ladders - start) }, (_, i) => start + i);
      await db.billingAccount.createMany({
        data: ids.map((i) => ({
          id: id(i),
          stripeCustomerId: `cus_${id(i)}`,
          email: `${id(i)}@customer.example.test`,
          name: 'Bench Customer',
        })),
      });
      await db.invoice.createMany({
        data: ids.map((i) => ({
          id: `in_${id(i)}`,
          accountId: id(i),
          status: 'open',
          amountDue: 2500,
          currency: 'usd',
          hostedInvoiceUrl: `https://invoice.stripe.test/in_${id(i)}`,
          lastEventCreatedAt: new Date(),
        })),
      });
    }
    const env = serviceEnv({
      databaseUrl: pg.databaseUrl,
      temporalAddress: temporal.address,
      taskQueue: TASK_QUEUE,
      // info: the worker's readiness line ("worker polling") is an info line.
      extra: { LOG_LEVEL: 'info', ENFORCEMENT_MODE: 'dry-run' },
    });
    const dry = loadConfig(env).policy;
    const enforce = loadConfig({ ...env, ENFORCEMENT_MODE: 'enforce' }).policy;
    progress('policy: starting the worker');
    worker = await spawnService(
      path.join(projectRoot, 'src/worker.ts'),
      env,
      WORKER_READY,
      120_000,
      [],
      WORKER_NODE_FLAGS,
    );

    progress(`policy: starting ${ladders} ladders in dry-run`);
    const started = await closedLoop(ladders, 32, (i) =>
      temporal.client.workflow
        .signalWithStart<typeof billingEnforcementWorkflow, [PaymentFailed]>('billingEnforcementWorkflow', {
          workflowId: workflowIdFor(id(i)),
          taskQueue: TASK_QUEUE,
          args: [{ accountId: id(i), policy: dry, publishSearchAttributes: true }],
          signal: paymentFailedSignal,
          signalArgs: [
            {
              invoiceId: `in_${id(i)}`,
              eventId: `evt_${id(i)}`,
              at: new Date().toISOString(),
              amountDue: 2500,
            },
          ],
        })
        .then(() => true),
    );
    const rollout = { client: temporal.client, taskQueue: TASK_QUEUE, policy: enforce, concurrency };
    // Every ladder overdue (in dry-run) and listed by visibility before the plan.
    const ready = await waitFor(
      async () =>
        Math.min(
          await db.billingAccount.count({ where: { state: 'overdue' } }),
          (await listLadders({ ...rollout, state: 'overdue' })).length,
        ),
      (n) => n >= ladders,
      { timeoutMs: options.timeoutMs, everyMs: 2000 },
    );
    progress(`policy: ${ready.value} ladders overdue in dry-run and visible; planning`);

    const report = (what: string) => (done: number, total: number) => {
      if (done % 500 === 0 || done === total) progress(`policy: ${what} ${done}/${total}`);
    };
    let t0 = Date.now();
    const plan = await planRollout({ ...rollout, onProgress: report('plan') });
    const planSeconds = round((Date.now() - t0) / 1000, 1);

    t0 = Date.now();
    const applied = await applyRollout({
      ...rollout,
      actor: 'bench',
      reason: 'launch day benchmark',
      onProgress: report('apply'),
    });
    const applySeconds = round((Date.now() - t0) / 1000, 1);

    t0 = Date.now();
    const noticed = await waitFor(
      () =>
        db.notification.count({
          where: { channel: 'email', template: 'payment_failed', status: { in: ['logged', 'sent'] } },
        }),
      (n) => n >= ladders,
      { timeoutMs: options.timeoutMs, everyMs: 1000 },
    );
    const noticeSeconds = round((Date.now() - t0) / 1000, 1);

    t0 = Date.now();
    const again = await applyRollout({ ...rollout, actor: 'bench', reason: 'launch day, again' });
    const againSeconds = round((Date.now() - t0) / 1000, 1);
    const audits = await db.billingEnforcementEvent.count({ where: { kind: 'admin_apply_policy' } });
    return {
      ladders,
      started: started.ok,
      startFailed: started.failed,
      concurrency,
      from: `${dry.version} (dry-run)`,
      to: `${enforce.version} (enforce)`,
      plan: {
        seconds: planSeconds,
        perSecond: round(plan.scanned / Math.max(planSeconds, 0.1), 1),
        scanned: plan.scanned,
        wouldChange: plan.changes.length,
        failed: plan.failed.length,
      },
      apply: {
        seconds: applySeconds,
        perSecond: round(applied.scanned / Math.max(applySeconds, 0.1), 1),
        applied: applied.applied.length,
        alreadyCurrent: applied.alreadyCurrent,
        failed: applied.failed.length,
        failures: applied.failed.slice(0, 5),
      },
      realNoticesRecorded: noticed.value,
      allRealNoticesSecondsAfterApply: noticed.met ? noticeSeconds : null,
      secondApply: {
        seconds: againSeconds,
        applied: again.applied.length,
        alreadyCurrent: again.alreadyCurrent,
        failed: again.failed.length,
      },
      auditRows: audits,
    };
  } finally {
    await worker?.stop();
    await db.$disconnect();
    await temporal.teardown();
    await pg.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
