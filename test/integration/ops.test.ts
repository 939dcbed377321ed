// Operations on the real Temporal dev server: /readyz and `billing doctor` without a worker, the
// staleness check (one alert per incident, one on recovery), and the real worker process
// (src/worker.ts) stopped with SIGTERM while it stops a customer's server: it finishes that,
// exits 0, and the next worker carries on with no duplicate effect. Its metrics endpoints are
// scraped on the way.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { runDoctor } from '../../src/cli/commands/doctor.js';
import { loadConfig, type Config } from '../../src/platform/config.js';
import { buildServer } from '../../src/api/app.js';
import { createLogger } from '../../src/platform/logger.js';
import { opsAlerter } from '../../src/notifications/ops-alerts.js';
import {
  createStalenessCheck,
  describeTaskQueueHealth,
} from '../../src/platform/observability/task-queue.js';
import { projectRoot, temporalCliExecutable } from '../../src/dev/toolchain.js';
import { SEARCH_ATTRIBUTES } from '../../src/workflows/definitions.js';
import { startProxmoxStandin, type ProxmoxStandin } from '../support/standins/proxmox.js';
import {
  db,
  eventsOf,
  notificationsOf,
  recordingDeps,
  seedAccount,
  startLadder,
  startWorker,
  terminateLeftovers,
  testPolicy,
  waitForStatus,
} from './support/harness.js';

const SECOND = 1000;
const silent = createLogger('silent');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const SECRETS = {
  INTERNAL_API_TOKEN: 'ops-test-internal-token-0123456789',
  ADMIN_TOKEN: 'ops-test-admin-token-0123456789ab',
  STRIPE_WEBHOOK_SECRET: 'whsec_ops_test',
};

async function eventually<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 20 * SECOND,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });
}

/** Prometheus text → `name{labels}` → value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  serviceMetrics: string;
  temporalMetrics: string;
}

/** The real worker entry point, as systemd and compose run it. */
async function spawnWorker(env: Record<string, string>): Promise<WorkerProcess> {
  const [temporalPort, servicePort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, ['--import', 'tsx', path.join('src', 'worker.ts')], {
    cwd: projectRoot,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...env,
      WORKER_METRICS_ADDRESS: `127.0.0.1:${temporalPort}`,
      WORKER_SERVICE_METRICS_ADDRESS: `127.0.0.1:${servicePort}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const proc = {
    child,
    output: () => output,
    exited,
    serviceMetrics: `http://127.0.0.1:${servicePort}/metrics`,
    temporalMetrics: `http://127.0.0.1:${temporalPort}/metrics`,
  };
  await eventually(
    'the worker to poll',
    () => {
      if (child.exitCode !== null) throw new Error(`worker exited early (${child.exitCode}):\n${output}`);
      return output.includes('"worker polling"') ? true : undefined;
    },
    120 * SECOND,
  );
  return proc;
}

describe('operations on the Temporal dev server', () => {
  let env: TestWorkflowEnvironment;
  let px: ProxmoxStandin;
  const workers: ChildProcess[] = [];
  beforeAll(async () => {
    try {
      Runtime.install({ logger: new DefaultLogger('WARN') });
    } catch {
      // already installed by an earlier file in this process
    }
    env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: temporalCliExecutable(),
        searchAttributes: SEARCH_ATTRIBUTES,
        extraArgs: ['--log-level', 'error'],
      },
    });
    px = await startProxmoxStandin();
  });
  afterEach(async () => {
    for (const child of workers.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
    await terminateLeftovers();
  });
  afterAll(async () => {
    await px?.close();
    await env?.teardown();
  });

  const configFor = (taskQueue: string, extra: Record<string, string> = {}): Config =>
    loadConfig({
      DATABASE_URL: inject('databaseUrl'),
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_TASK_QUEUE: taskQueue,
      ...SECRETS,
      ...extra,
    });

  it('no worker: /readyz answers 503 naming it, doctor fails the worker and backlog checks, the backlog shows its age', async () => {
    const taskQueue = `tq-${randomUUID()}`;
    const config = configFor(taskQueue, { STALENESS_MAX_BACKLOG_AGE_SECONDS: '1' });
    const app = buildServer({
      config,
      db: db(),
      temporal: env.client,
      logger: silent,
    });
    try {
      const ready = await app.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(503);
      const body = ready.json<{
        checks: { name: string; ok: boolean; detail?: string }[];
        taskQueue: {
          workflow: { pollers: unknown[] };
          activity: { pollers: unknown[] };
          statsSupported: boolean;
        };
      }>();
      expect(body.checks.find((c) => c.name === 'postgres')?.ok).toBe(true);
      expect(body.checks.find((c) => c.name === 'temporal')?.ok).toBe(true);
      expect(body.checks.find((c) => c.name === 'worker')).toMatchObject({
        ok: false,
        detail: `no worker polls ${taskQueue}`,
      });
      expect(body.taskQueue.workflow.pollers).toEqual([]);
      expect(body.taskQueue.activity.pollers).toEqual([]);
      expect(body.taskQueue.statsSupported).toBe(true);
    } finally {
      await app.close();
    }

    // A ladder nobody works on: its first workflow task waits in the backlog.
    const { accountId, invoiceIds } = await seedAccount();
    await startLadder(env, taskQueue, accountId, invoiceIds[0]!);
    const report = await eventually('a backlog over 1 s', async () => {
      const r = await describeTaskQueueHealth(env.client.workflowService, 'default', taskQueue);
      return (r.backlogCount ?? 0) >= 1 && (r.backlogAgeSeconds ?? 0) >= 2 ? r : undefined;
    });
    expect(report.workflow.backlogCount).toBe(1);

    let text = '';
    const doctor = await runDoctor(
      { db: db(), client: env.client, config, out: { write: (s: string) => (text += s) } },
      {},
    );
    expect(doctor.ok).toBe(false);
    const byName = Object.fromEntries(doctor.checks.map((c) => [c.name, c]));
    expect(byName.postgres).toMatchObject({ ok: true });
    expect(byName['database role']).toMatchObject({ ok: true });
    expect(byName['database role']!.detail).toMatch(/^billing_test_app: reads and writes rows/);
    expect(byName.temporal).toMatchObject({ ok: true });
    expect(byName['search attributes']).toMatchObject({ ok: true });
    expect(byName.worker).toMatchObject({ ok: false, detail: `no worker polls ${taskQueue}` });
    expect(byName.backlog!.ok).toBe(false);
    expect(byName.backlog!.detail).toMatch(/^backlog 1 task\(s\), oldest waiting \d+ s \(over 1 s\)$/);
    expect(text).toContain('FAIL  worker');
    expect(text).toMatch(/workflow {2}backlog 1, oldest \d+ s; pollers: none/);
  });

  it('the staleness check alerts once when the worker stops polling (also from a second HTTP instance), and once when it is back', async () => {
    const taskQueue = `tq-${randomUUID()}`;
    const alertDeps = recordingDeps();
    const alertOps = opsAlerter(createActivities(alertDeps));
    const newCheck = () =>
      createStalenessCheck({
        describe: () => describeTaskQueueHealth(env.client.workflowService, 'default', taskQueue),
        alertOps,
        thresholds: { maxPollerAgeSeconds: 2, maxBacklogAgeSeconds: 3600 },
        logger: silent,
      });
    const check = newCheck();
    const pollsNow = async () =>
      (await describeTaskQueueHealth(env.client.workflowService, 'default', taskQueue)).lastPollAt ??
      undefined;

    // A worker polls for a while, then goes away.
    const first = await startWorker(env, recordingDeps(), taskQueue);
    await first.worker.runUntil(async () => {
      await eventually('a poller', pollsNow);
      expect((await check.tick()).alerted).toEqual([]);
    });
    expect((await check.tick()).alerted).toEqual([]); // not yet past the threshold

    await sleep(3 * SECOND);
    const incident = await check.tick();
    const lastPollAt = incident.report!.lastPollAt!;
    const key = `staleness:no_poller:default/${taskQueue}:${lastPollAt}`;
    expect(incident.alerted).toEqual([key]);
    expect(incident.findings.find((f) => f.kind === 'no_poller')!.message).toMatch(
      new RegExp(`^no worker has polled ${taskQueue} for \\d+ s \\(last poll ${lastPollAt}\\)$`),
    );
    // Later ticks of the same incident: nothing new.
    await sleep(1100);
    expect((await check.tick()).alerted).toEqual([]);
    // A second HTTP instance names the incident by the same last poll: the ledger posts it once.
    expect((await newCheck().tick()).alerted).toEqual([key]);

    const posted = () => alertDeps.chat.posted.filter((p) => p.message.title.includes(taskQueue));
    expect(posted()).toHaveLength(1);
    expect(posted()[0]).toMatchObject({
      channel: 'ops',
      message: { title: `No billing worker polls ${taskQueue}` },
    });
    const rows = await db().notification.findMany({
      where: { idempotencyKey: { startsWith: `staleness:no_poller:default/${taskQueue}:` } },
    });
    expect(rows.map((r) => [r.channel, r.status, r.idempotencyKey])).toEqual([
      ['discord_ops', 'logged', key],
    ]);

    // The worker is back: one recovery message, then quiet.
    const second = await startWorker(env, recordingDeps(), taskQueue);
    await second.worker.runUntil(async () => {
      await eventually('a fresh poll', async () => {
        const at = await pollsNow();
        return at && at !== lastPollAt ? at : undefined;
      });
      expect((await check.tick()).alerted).toEqual([`${key}:resolved`]);
      expect((await check.tick()).alerted).toEqual([]);
    });
    expect(posted().map((p) => p.message.title)).toEqual([
      `No billing worker polls ${taskQueue}`,
      `Recovered: a worker polls ${taskQueue}`,
    ]);
  });

  it('a never-seen worker is an incident only after the threshold, counted from the first look', async () => {
    const taskQueue = `tq-${randomUUID()}`;
    const alertDeps = recordingDeps();
    const check = createStalenessCheck({
      describe: () => describeTaskQueueHealth(env.client.workflowService, 'default', taskQueue),
      alertOps: opsAlerter(createActivities(alertDeps)),
      thresholds: { maxPollerAgeSeconds: 1, maxBacklogAgeSeconds: 3600 },
      logger: silent,
    });
    const firstLook = await check.tick();
    expect(firstLook.alerted).toEqual([]);
    expect(firstLook.findings[0]).toMatchObject({ kind: 'no_poller', ok: true });
    await sleep(1500);
    const late = await check.tick();
    expect(late.alerted).toHaveLength(1);
    expect(late.alerted[0]).toMatch(new RegExp(`^staleness:no_poller:default/${taskQueue}:`));
    expect((await check.tick()).alerted).toEqual([]);
    expect(alertDeps.chat.posted).toHaveLength(1);
  });

  it('SIGTERM while a server is being stopped: the worker finishes that, exits 0 within the grace time; the next worker carries on with no duplicate effect; both metrics endpoints answer', async () => {
    const taskQueue = `tq-${randomUUID()}`;
    const { accountId, invoiceIds, vmids } = await seedAccount({ servers: ['running'] });
    const vmid = vmids[0]!;
    // The guest takes 4 s to power off: the suspension is in flight for that long.
    const guest = px.addGuest('pve1', 'qemu', vmid, { status: 'running', shutdownMs: 4 * SECOND });
    const graceSeconds = 20;
    const workerEnv = {
      DATABASE_URL: inject('databaseUrl'),
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_TASK_QUEUE: taskQueue,
      ...SECRETS,
      ENFORCEMENT_MODE: 'enforce',
      SERVER_CONTROL: 'proxmox',
      PROXMOX_API_URL: px.url,
      PROXMOX_TOKEN_ID: px.tokenId,
      PROXMOX_TOKEN_SECRET: px.tokenSecret,
      WORKER_SHUTDOWN_GRACE_SECONDS: String(graceSeconds),
      LOG_LEVEL: 'info',
    };

    const first = await spawnWorker(workerEnv);
    workers.push(first.child);
    const policy = testPolicy({
      finalWarningAfterMs: 1 * SECOND,
      suspendAfterMs: 2 * SECOND,
      retainAfterMs: 12 * SECOND,
      retentionMs: 3600 * SECOND,
      shutdownTimeoutMs: 30 * SECOND,
    });
    const handle = await startLadder(env, taskQueue, accountId, invoiceIds[0]!, policy, {
      publishSearchAttributes: true,
    });
    const shutdownAction = `shutdown qemu/${vmid}`;
    await eventually('the graceful shutdown request', () =>
      px.actions.includes(shutdownAction) ? true : undefined,
    );

    // The worker's own counters moved with the ladder; Temporal's metrics are served next to them.
    const service = samples(await (await fetch(first.serviceMetrics)).text());
    expect(service.get('billing_ladder_transitions_total{rung="overdue",dry_run="false"}')).toBe(1);
    expect(service.get('billing_ladder_transitions_total{rung="final_warning",dry_run="false"}')).toBe(1);
    expect(
      service.get('billing_notifications_total{channel="email",outcome="logged"}'),
    ).toBeGreaterThanOrEqual(2);
    expect(service.get('billing_worker_temporal_metrics_exporter_up')).toBe(1);
    const temporal = await (await fetch(first.temporalMetrics)).text();
    expect(temporal).toMatch(/^temporal_worker_start\{/m);
    expect(temporal).toMatch(/^temporal_activity_execution_latency_bucket\{/m);

    // The suspension is in flight (the guest has not powered off yet) when SIGTERM arrives.
    expect(guest.status).toBe('running');
    const signalledAt = Date.now();
    first.child.kill('SIGTERM');
    const exit = await first.exited;
    const stopSeconds = (exit.at - signalledAt) / 1000;
    console.log(`worker stopped ${stopSeconds.toFixed(1)} s after SIGTERM (grace ${graceSeconds} s)`);
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(stopSeconds).toBeLessThan(graceSeconds);
    expect(first.output()).toContain('"worker stopped"');
    // The activity it was running finished before it exited: guest off, server marked.
    expect(guest.status).toBe('stopped');
    const server = await db().server.findUniqueOrThrow({ where: { vmid } });
    expect(server).toMatchObject({ billingSuspended: true, powerStateBeforeSuspend: 'running' });
    const history = await handle.fetchHistory();
    const scheduled = history.events!.find(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'suspendServers',
    )!;
    const completed = history.events!.find(
      (e) =>
        Number(e.activityTaskCompletedEventAttributes?.scheduledEventId ?? -1) === Number(scheduled.eventId),
    );
    expect(completed).toBeDefined();
    const started = history.events!.find(
      (e) =>
        Number(e.activityTaskStartedEventAttributes?.scheduledEventId ?? -1) === Number(scheduled.eventId),
    )!;
    expect(started.activityTaskStartedEventAttributes!.attempt).toBe(1);

    // The next worker picks the ladder up where it stands.
    const second = await spawnWorker(workerEnv);
    workers.push(second.child);
    const status = await waitForStatus(
      handle,
      (s) => s.state === 'retained' && s.history.some((h) => h.kind === 'retained'),
      'retained',
      60 * SECOND,
    );
    expect(status.history.map((h) => h.kind)).toEqual(['overdue', 'final_warning', 'suspended', 'retained']);
    const after = samples(await (await fetch(second.serviceMetrics)).text());
    expect(after.get('billing_ladder_transitions_total{rung="retained",dry_run="false"}')).toBe(1);

    // No duplicate effect: one power-off, one transition and one email per rung.
    expect(px.actions.filter((a) => a.endsWith(`/${vmid}`))).toEqual([shutdownAction]);
    const transitions = (await eventsOf(accountId))
      .filter((e) => e.kind.startsWith('transition:'))
      .map((e) => e.kind);
    expect(transitions).toEqual([
      'transition:overdue',
      'transition:final_warning',
      'transition:suspended',
      'transition:retained',
    ]);
    const emails = (await notificationsOf(accountId))
      .filter((n) => n.channel === 'email')
      .map((n) => n.template);
    expect(emails).toEqual(['payment_failed', 'final_warning', 'suspended', 'retained']);

    second.child.kill('SIGTERM');
    expect(await second.exited).toMatchObject({ code: 0 });
  }, 300_000);
});
