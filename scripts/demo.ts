// `npm run demo [-- --pay-at <rung>] [--json]`: one account through the ladder on the
// time-skipping test server, against a real PostgreSQL (embedded and thrown away, or
// DATABASE_URL), with the real activities and recording adapters. Prints the timeline.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, makeTelemetryFilterString, Runtime, Worker } from '@temporalio/worker';
import { Command, Option } from 'commander';
import { createActivities } from '../src/activities/index.js';
import { recordingActivityDeps } from '../src/activities/deps.js';
import { createPrisma } from '../src/platform/database.js';
import { startEmbeddedPostgres } from '../src/dev/embedded-postgres.js';
import { createLogger } from '../src/platform/logger.js';
import { workflowsPath } from '../src/platform/temporal/worker-factory.js';
import { startTimeSkippingEnvironment } from '../src/dev/time-skipping.js';
import { projectRoot } from '../src/dev/toolchain.js';
import { type billingEnforcementWorkflow } from '../src/workflows/billing-enforcement.js';
import {
  invoiceSettledSignal,
  paymentFailedSignal,
  statusQuery,
  workflowIdFor,
  type BillingState,
  type EnforcementPolicy,
  type EnforcementStatus,
  type PaymentFailed,
} from '../src/workflows/definitions.js';
import { LADDER, rungSpec, type RungName } from '../src/workflows/ladder.js';

const HOUR = 3_600_000;

// The rungs the demo's policy climbs, in ladder order (the optional reminder is off in it).
const RUNGS = LADDER.filter((r) => r.after(demoPolicy()) !== null).map((r) => r.rung);
type PayAt = RungName;

const program = new Command()
  .name('demo')
  .addOption(new Option('--pay-at <rung>', 'pay the invoice once this rung is reached').choices(RUNGS))
  .option('--json', 'print the timeline as JSON')
  .parse();
const opts = program.opts<{ payAt?: PayAt; json?: boolean }>();
const progress = (message: string) => {
  if (!opts.json) process.stderr.write(`[demo] ${message}\n`);
};

interface TimelineEntry {
  at: string;
  hoursSinceFailure: number;
  state: BillingState;
  actions: string[];
}

const wallStart = Date.now();
// Core (Rust) logs go through the JS logger at ERROR, never to stdout: --json output stays clean.
Runtime.install({
  logger: new DefaultLogger('ERROR'),
  telemetryOptions: { logging: { forward: {}, filter: makeTelemetryFilterString({ core: 'ERROR' }) } },
});

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'billing-demo-'));
fs.chmodSync(tmp, 0o755);
let stopPg = async () => {};
let databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  progress('starting a throwaway embedded PostgreSQL');
  const pg = await startEmbeddedPostgres({ dataDir: path.join(tmp, 'pg'), persistent: false });
  databaseUrl = pg.databaseUrl;
  stopPg = pg.stop;
}
let env: TestWorkflowEnvironment | undefined;
try {
  execFileSync(path.join(projectRoot, 'node_modules', '.bin', 'prisma'), ['migrate', 'deploy'], {
    cwd: projectRoot,
    env: { ...process.env, DATABASE_URL: databaseUrl },
    stdio: 'ignore',
  });
  const db = createPrisma(databaseUrl);
  const logger = createLogger('silent');
  progress('starting the time-skipping test server');
  env = await startTimeSkippingEnvironment();

  const accountId = `demo_${Date.now().toString(36)}`;
  const invoiceId = `in_demo_${Date.now().toString(36)}`;
  await db.billingAccount.create({
    data: {
      id: accountId,
      stripeCustomerId: `cus_${accountId}`,
      email: 'customer@example.test',
      name: 'Demo Customer',
      servers: {
        create: [
          { vmid: 900_000 + (Date.now() % 50_000) * 2, node: 'pve1', kind: 'qemu', powerState: 'running' },
          { vmid: 900_001 + (Date.now() % 50_000) * 2, node: 'pve1', kind: 'lxc', powerState: 'stopped' },
        ],
      },
    },
  });
  await db.invoice.create({
    data: {
      id: invoiceId,
      accountId,
      status: 'open',
      amountDue: 4200,
      currency: 'usd',
      hostedInvoiceUrl: 'https://invoice.stripe.test/demo',
      lastEventCreatedAt: new Date(),
    },
  });

  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: 'billing-demo',
    workflowsPath,
    activities: createActivities(
      recordingActivityDeps(db, logger, {
        temporalUiUrl: 'http://localhost:8233',
        temporalNamespace: 'default',
        portalUrl: 'http://localhost:5173',
      }),
    ),
  });

  const timeSkipping = env;
  const final = await worker.runUntil(async () => {
    const handle = await timeSkipping.client.workflow.signalWithStart<
      typeof billingEnforcementWorkflow,
      [PaymentFailed]
    >('billingEnforcementWorkflow', {
      workflowId: workflowIdFor(accountId),
      taskQueue: 'billing-demo',
      args: [{ accountId, policy: demoPolicy(), publishSearchAttributes: false }],
      signal: paymentFailedSignal,
      signalArgs: [
        {
          invoiceId,
          eventId: 'evt_demo_failed',
          at: new Date().toISOString(),
          amountDue: 4200,
          currency: 'usd',
        },
      ],
    });
    const reached = (s: EnforcementStatus, rung: PayAt) =>
      s.history.some((h) => h.kind === rungSpec(rung).historyKind);
    for (const rung of RUNGS) {
      let status = await handle.query(statusQuery);
      if (!reached(status, rung) && status.nextAction) {
        await timeSkipping.sleep(
          Math.max(0, Date.parse(status.nextAction.at) - (await timeSkipping.currentTimeMs()) + 1000),
        );
      }
      status = await poll(
        () => handle.query(statusQuery),
        (s) => reached(s, rung),
      );
      progress(`reached ${rung}`);
      if (opts.payAt === rung) {
        await handle.signal(invoiceSettledSignal, {
          invoiceId,
          how: 'paid',
          eventId: 'evt_demo_paid',
          at: new Date().toISOString(),
        });
        await handle.result();
        break;
      }
    }
    const status = await handle.query(statusQuery);
    if (!opts.payAt) await handle.terminate('demo finished');
    return status;
  });
  await db.$disconnect();

  const failedAt = Date.parse(final.history[0]!.at);
  const timeline: TimelineEntry[] = final.history
    .filter((h) => [...LADDER.map((r) => r.historyKind), 'restored'].includes(h.kind))
    .map((h) => ({
      at: h.at,
      hoursSinceFailure: Math.round(((Date.parse(h.at) - failedAt) / HOUR) * 100) / 100,
      state: h.kind === 'restored' ? 'active' : h.state,
      actions: h.actions ?? [],
    }));
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(timeline, null, 2)}\n`);
  } else {
    for (const entry of timeline) {
      process.stdout.write(
        `T+${entry.hoursSinceFailure.toFixed(1).padStart(7)} h  ${entry.at}  ${entry.state.padEnd(13)}  ${entry.actions.join('; ')}\n`,
      );
    }
    process.stdout.write(
      `${timeline.length} steps in ${((Date.now() - wallStart) / 1000).toFixed(1)} s of wall time\n`,
    );
  }
} finally {
  await env?.teardown();
  await stopPg();
  fs.rmSync(tmp, { recursive: true, force: true });
}

function demoPolicy(): EnforcementPolicy {
  return {
    version: 'demo',
    finalWarningAfterMs: 72 * HOUR,
    suspendAfterMs: 120 * HOUR,
    retainAfterMs: 14 * 24 * HOUR,
    retentionMs: 30 * 24 * HOUR,
    restartServersOnRestore: true,
    dryRun: false,
    minAmountDueCents: 100,
    suspensionBreaker: { threshold: 25, windowMs: HOUR },
    shutdownTimeoutMs: 1000,
  };
}

async function poll<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}
