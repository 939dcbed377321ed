// The production shape, proven on this machine: the real Temporal server on PostgreSQL (set up
// by docker-compose.yml's own scripts), two workers and two HTTP services of this project. A
// webhook storm (duplicates and out-of-order deliveries included) is spread over both HTTP
// services while ladders run on a policy of seconds; meanwhile each worker is restarted in turn
// (SIGTERM, graceful), then each HTTP service, then the Temporal server, then PostgreSQL — a
// rolling deploy and two maintenance restarts. Afterwards every event has been applied once,
// every ladder stands where its timeline says, every timer fired, every email and Discord post
// and every server action happened once. The same run checks what the dev server hides:
// search-attribute queries on PostgreSQL visibility, the reconciliation Schedule created once
// by two workers, `billing doctor` and /readyz of both HTTP services.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../bench/lib.js';
import { createPrisma, type PrismaClient } from '../../src/platform/database.js';
import { simulatedEvent } from '../../src/webhook/event-builders.js';
import { workflowIdFor } from '../../src/workflows/definitions.js';
import { RECONCILIATION_SCHEDULE_ID } from '../../src/workflows/reconciliation.js';
import { startProxmoxStandin, type ProxmoxStandin } from '../support/standins/proxmox.js';
import { startResendStandin, type ResendStandin } from '../support/standins/resend.js';
import { sleep } from '../faults/support/processes.js';
import { createDeliverer } from './support/delivery.js';
import { EMAIL_OF, judgeLadder, type Timeline } from './support/ladder-timeline.js';
import { say, startStack, type Stack } from './support/stack.js';

const SECOND = 1000;
/** Ladders that stay unpaid until their deletion review is due, then are paid. */
const UNPAID = 8;
/** Ladders paid during the storm, at different rungs. */
const PAID = 12;
const STAGGER_MS = 3 * SECOND;
/** Paid this long after the ladder started: half-way through overdue, final warning, suspended. */
const PAY_AFTER_MS = [15 * SECOND, 45 * SECOND, 75 * SECOND];
const timeline: Timeline = {
  offsetsMs: { final_warning: 30 * SECOND, suspended: 60 * SECOND, retained: 90 * SECOND },
  ambiguityMs: 10 * SECOND,
};
const RETENTION_MS = 30 * SECOND;
const HOURS = (ms: number) => String(ms / 3_600_000);
const DAYS = (ms: number) => String(ms / 86_400_000);

interface Account {
  id: string;
  vmid: number;
  paidDuringStorm: boolean;
  payAfterMs: number;
  /** When the webhook accepted the payment (null until then). */
  paidAcceptedAt: number | null;
  /** When the failure that starts the ladder was first sent. */
  failureFirstSentAt: number;
  eventIds: { failed: string; older: string; paid: string | null };
}

describe('production shape: real Temporal on PostgreSQL, two of everything, rolling restarts', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'billing-topology-'));
  let stack: Stack | undefined;
  let resend: ResendStandin;
  let proxmox: ProxmoxStandin;
  let db: PrismaClient | undefined;

  beforeAll(async () => {
    resend = await startResendStandin();
    proxmox = await startProxmoxStandin();
    const started = Date.now();
    stack = await startStack({
      tmp,
      taskQueue: 'billing-enforcement',
      extraEnv: {
        POLICY_VERSION: 'topology',
        POLICY_FINAL_WARNING_AFTER_HOURS: HOURS(timeline.offsetsMs.final_warning),
        POLICY_SUSPEND_AFTER_HOURS: HOURS(timeline.offsetsMs.suspended),
        POLICY_RETAIN_AFTER_DAYS: DAYS(timeline.offsetsMs.retained),
        POLICY_RETENTION_DAYS: DAYS(RETENTION_MS),
        POLICY_SHUTDOWN_TIMEOUT_SECONDS: '2',
        POLICY_SUSPENSION_BREAKER_THRESHOLD: '1000',
        RESEND_API_KEY: resend.apiKey,
        RESEND_BASE_URL: resend.url,
        EMAIL_RATE_PER_SECOND: '50',
        DISCORD_RATE_PER_SECOND: '50',
        SERVER_CONTROL: 'proxmox',
        PROXMOX_API_URL: proxmox.url,
        PROXMOX_TOKEN_ID: proxmox.tokenId,
        PROXMOX_TOKEN_SECRET: proxmox.tokenSecret,
        WORKER_SHUTDOWN_GRACE_SECONDS: '10',
        // Restarts are in the test's hands; the check must not run the reconciliation meanwhile.
        RECONCILIATION_INTERVAL_MINUTES: '1440',
        DEPENDENCY_WAIT_SECONDS: '120',
        // Four processes and Temporal on one PostgreSQL (100 connections by default).
        DATABASE_POOL_MAX: '10',
      },
    });
    say(`stack up in ${Date.now() - started} ms`);
  });
  afterAll(async () => {
    try {
      await db?.$disconnect();
      await stack?.close();
      await Promise.all([resend?.close(), proxmox?.close()]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('nothing lost, nothing doubled; visibility, the Schedule, doctor and readiness hold', async () => {
    const s = stack!;
    const seed = createPrisma(s.databaseUrl, { max: 2 });
    const accounts: Account[] = Array.from({ length: UNPAID + PAID }, (_, i) => ({
      id: `topo_${i}`,
      vmid: 900_000 + i,
      paidDuringStorm: i >= UNPAID,
      payAfterMs: PAY_AFTER_MS[i % PAY_AFTER_MS.length]!,
      paidAcceptedAt: null,
      failureFirstSentAt: 0,
      eventIds: { failed: '', older: '', paid: null },
    }));
    for (const a of accounts) {
      await seed.billingAccount.create({
        data: {
          id: a.id,
          stripeCustomerId: `cus_${a.id}`,
          email: `${a.id}@customer.example.test`,
          name: 'Topology',
        },
      });
      await seed.server.create({
        data: { accountId: a.id, vmid: a.vmid, node: 'pve1', kind: 'qemu', powerState: 'running' },
      });
      proxmox.addGuest('pve1', 'qemu', a.vmid, { status: 'running', shutdownMs: 200 });
    }

    // This process holds no connection while PostgreSQL restarts.
    await seed.$disconnect();

    // Before the storm: both HTTP services are ready (a worker polls, PostgreSQL and Temporal answer).
    for (const { port } of s.https) expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);

    const sender = createDeliverer(() => s.https.map((h) => h.port), { giveUpAfterMs: 6 * 60 * SECOND });
    const distinctEvents = new Set<string>();
    let repeats = 0;
    let outOfOrder = 0;
    const send = async (event: { id: string }, kind: 'first' | 'repeat' | 'out-of-order') => {
      distinctEvents.add(event.id);
      if (kind === 'repeat') repeats++;
      if (kind === 'out-of-order') outOfOrder++;
      return sender.deliver(event);
    };
    const now = () => Math.floor(Date.now() / 1000);

    /** One account's deliveries, as Stripe would make them. */
    const script = async (a: Account, index: number) => {
      await sleep(index * STAGGER_MS);
      const invoiceId = `in_${a.id}`;
      const failed = simulatedEvent('payment-failed', { customer: `cus_${a.id}`, invoiceId, created: now() });
      // An earlier failure of the same invoice that Stripe delivers late.
      const older = simulatedEvent('payment-failed', {
        customer: `cus_${a.id}`,
        invoiceId,
        created: now() - 120,
      });
      a.eventIds.failed = failed.id;
      a.eventIds.older = older.id;
      const first = await send(failed, 'first');
      a.failureFirstSentAt = first.firstSentAt;
      // The same event twice at once, to both services, and the late one.
      await Promise.all([send(failed, 'repeat'), send(older, 'out-of-order')]);
      if (!a.paidDuringStorm || first.acceptedAt === null) return;
      await sleep(Math.max(0, first.acceptedAt + a.payAfterMs - Date.now()));
      const paid = simulatedEvent('paid', { customer: `cus_${a.id}`, invoiceId, created: now() });
      a.eventIds.paid = paid.id;
      a.paidAcceptedAt = (await send(paid, 'first')).acceptedAt;
      // After the payment: the failure delivered yet again.
      await send(failed, 'repeat');
    };

    /** The deploy: each worker, each HTTP service, then the Temporal server, then PostgreSQL. */
    const restarts: string[] = [];
    const rollingRestarts = async () => {
      await sleep(10 * SECOND);
      for (const i of [0, 1]) {
        const t = Date.now();
        await s.restartWorker(i);
        restarts.push(`worker ${i + 1} ${Date.now() - t} ms`);
        say(`worker ${i + 1} restarted (SIGTERM) in ${Date.now() - t} ms`);
        await sleep(5 * SECOND);
      }
      for (const i of [0, 1]) {
        const t = Date.now();
        await s.restartHttp(i);
        restarts.push(`HTTP ${i + 1} ${Date.now() - t} ms`);
        say(`HTTP service ${i + 1} restarted in ${Date.now() - t} ms`);
        await sleep(3 * SECOND);
      }
      const temporalDown = await s.restartTemporal();
      restarts.push(`Temporal ${temporalDown} ms`);
      say(`Temporal server restarted, serving again after ${temporalDown} ms`);
      await sleep(10 * SECOND);
      const pgDown = await s.restartPostgres();
      restarts.push(`PostgreSQL ${pgDown} ms`);
      say(`PostgreSQL restarted in ${pgDown} ms`);
    };

    const stormStarted = Date.now();
    await Promise.all([rollingRestarts(), ...accounts.map((a, i) => script(a, i))]);
    say(`storm and restarts done in ${Date.now() - stormStarted} ms: ${restarts.join(', ')}`);

    // The unpaid ladders run on to their deletion review; then visibility is asked about them.
    db = createPrisma(s.databaseUrl, { max: 4 });
    const unpaid = accounts.filter((a) => !a.paidDuringStorm);
    const reviewDue = await waitFor(
      () =>
        db!.billingEnforcementEvent.count({
          where: { accountId: { in: unpaid.map((a) => a.id) }, kind: 'deletion_review_due' },
        }),
      (n) => n === unpaid.length,
      { timeoutMs: 5 * 60 * SECOND, everyMs: 2 * SECOND },
    );
    expect(reviewDue.value).toBe(unpaid.length);

    // Search attributes on PostgreSQL visibility (eventually consistent: asked until it agrees).
    const unpaidIds = unpaid.map((a) => workflowIdFor(a.id)).sort();
    const listIds = async (query: string) =>
      (
        JSON.parse((await s.temporal(['workflow', 'list', '--query', query, '-o', 'json'])) || '[]') as {
          execution: { workflowId: string };
        }[]
      )
        .map((w) => w.execution.workflowId)
        .sort();
    const retainedQuery = `BillingState = 'retained' AND ExecutionStatus = 'Running'`;
    const visibility = await waitFor(
      () => listIds(retainedQuery),
      (ids) => ids.join() === unpaidIds.join(),
      {
        timeoutMs: 60 * SECOND,
        everyMs: 2 * SECOND,
      },
    );
    const sinceQuery = `BillingOverdueSince < '${new Date().toISOString()}' AND BillingNextActionAt IS NULL AND ExecutionStatus = 'Running'`;
    const byDatetime = await waitFor(
      () => listIds(sinceQuery),
      (ids) => ids.join() === unpaidIds.join(),
      {
        timeoutMs: 30 * SECOND,
        everyMs: 2 * SECOND,
      },
    );
    const oneAccount = await listIds(`BillingAccountId = '${unpaid[0]!.id}'`);
    const cliList = await s.billing(['list', '--state', 'retained', '--json']);
    const listed = (JSON.parse(cliList.stdout) as { items: { id: string }[] }).items
      .map((i) => workflowIdFor(i.id))
      .sort();
    say(
      `visibility: "${retainedQuery}" → ${visibility.value.length} (want ${unpaidIds.length}); ` +
        `BillingOverdueSince/BillingNextActionAt → ${byDatetime.value.length}; BillingAccountId → ${oneAccount.length}; ` +
        `billing list --state retained → ${listed.length}`,
    );
    expect(visibility.value).toEqual(unpaidIds);
    expect(byDatetime.value).toEqual(unpaidIds);
    expect(oneAccount).toEqual([workflowIdFor(unpaid[0]!.id)]);
    expect(listed).toEqual(unpaidIds);

    // The unpaid pay now; every ladder then completes.
    await Promise.all(
      unpaid.map(async (a) => {
        const paid = simulatedEvent('paid', {
          customer: `cus_${a.id}`,
          invoiceId: `in_${a.id}`,
          created: now(),
        });
        a.eventIds.paid = paid.id;
        await send(paid, 'first');
        await send(paid, 'repeat');
      }),
    );
    sender.close();
    const completed = await waitFor(
      async () =>
        (
          await Promise.all(
            accounts.map((a) =>
              s.temporal(['workflow', 'describe', '-w', workflowIdFor(a.id), '-o', 'json']),
            ),
          )
        )
          .map(
            (out) =>
              (JSON.parse(out) as { workflowExecutionInfo: { status: string } }).workflowExecutionInfo.status,
          )
          .filter((status) => /COMPLETED/.test(status)).length,
      (n) => n === accounts.length,
      { timeoutMs: 3 * 60 * SECOND, everyMs: 3 * SECOND },
    );

    // ---- events: each one applied once ------------------------------------------------------
    const ids = accounts.map((a) => a.id);
    const logRows = await db.stripeEventLog.findMany({ where: { id: { in: [...distinctEvents] } } });
    const statusOf = new Map(logRows.map((r) => [r.id, r.status]));
    const wantStatus = new Map<string, string>();
    for (const a of accounts) {
      wantStatus.set(a.eventIds.failed, 'processed');
      wantStatus.set(a.eventIds.older, 'stale');
      if (a.eventIds.paid) wantStatus.set(a.eventIds.paid, 'processed');
    }
    const eventsLost = [...wantStatus].filter(([id]) => !statusOf.has(id)).length + sender.log.gaveUp.length;
    const eventsWrong = [...wantStatus].filter(([id, st]) => statusOf.has(id) && statusOf.get(id) !== st);
    const transitions = await db.billingEnforcementEvent.findMany({
      where: { accountId: { in: ids }, kind: { startsWith: 'transition:' } },
      orderBy: [{ occurredAt: 'asc' }, { createdAt: 'asc' }],
    });
    const transitionsOf = (id: string) => transitions.filter((t) => t.accountId === id);
    // A failure applied twice would enter overdue twice; a payment applied twice, active twice.
    const eventsDoubled = accounts.filter(
      (a) =>
        transitionsOf(a.id).filter((t) => t.kind === 'transition:overdue').length > 1 ||
        transitionsOf(a.id).filter((t) => t.kind === 'transition:active').length > 1,
    ).length;

    // ---- ladders and timers ---------------------------------------------------------------
    const verdicts = accounts.map((a) => ({
      a,
      ...judgeLadder(
        timeline,
        transitionsOf(a.id),
        a.paidDuringStorm ? a.paidAcceptedAt : null,
        a.failureFirstSentAt,
      ),
    }));
    const wrongRung = verdicts.filter((v) => !v.ok);
    const ambiguous = verdicts.filter((v) => v.ambiguous).length;
    const finalStates = await db.billingAccount.findMany({
      where: { id: { in: ids } },
      select: { state: true },
    });
    const timerKinds = ['transition:final_warning', 'transition:suspended', 'transition:retained'];
    const timersFired = transitions.filter((t) => timerKinds.includes(t.kind)).length;
    const reviews = await db.billingEnforcementEvent.count({
      where: { accountId: { in: ids }, kind: 'deletion_review_due' },
    });
    // The rung timers each ladder's own timeline says fell due before it was paid.
    const timersDue = verdicts.reduce((n, v) => n + v.timersDue.sure, 0);
    const timersMaybeDue = verdicts.reduce((n, v) => n + v.timersDue.possible, 0);
    const early = verdicts.flatMap((v) => v.early.map((r) => `${v.a.id}:${r}`));

    // ---- notifications ----------------------------------------------------------------------
    const ledger = await db.notification.findMany({ where: { accountId: { in: ids } } });
    const expectedEmails = verdicts.flatMap((v) =>
      transitionsOf(v.a.id)
        .map((t) => EMAIL_OF[t.kind])
        .filter(Boolean)
        .map((template) => `${v.a.id}/${template}`),
    );
    const emailKey = new Map(
      ledger
        .filter((n) => n.channel === 'email')
        .map((n) => [`${n.accountId}/${n.template}`, n.idempotencyKey]),
    );
    const deliveredByKey = new Map<string, number>();
    for (const d of resend.delivered)
      deliveredByKey.set(d.idempotencyKey ?? '?', (deliveredByKey.get(d.idempotencyKey ?? '?') ?? 0) + 1);
    const emailsLost = expectedEmails.filter((k) => !deliveredByKey.get(emailKey.get(k) ?? '-')).length;
    const emailsDoubled = [...deliveredByKey.values()].reduce((n, c) => n + c - 1, 0);
    const emailsUnexpected = resend.delivered.length - expectedEmails.length + emailsLost - emailsDoubled;
    // Discord: the production worker posts only to discord.com, so here its recording adapter
    // does, and the ledger is the record: one row per post, `logged` once.
    const posts = ledger.filter((n) => n.channel === 'discord_billing');
    const postsLogged = posts.filter((n) => n.status === 'logged' && n.attempts === 1).length;
    const postsDoubled = posts.filter((n) => n.attempts > 1).length;
    const postsLost = expectedEmails.length - postsLogged - postsDoubled;
    const opsReviews = ledger.filter((n) => n.channel === 'discord_ops' && n.status === 'logged').length;
    const notDone = ledger.filter((n) => !['sent', 'logged'].includes(n.status));

    // ---- server actions ---------------------------------------------------------------------
    const expectedActions = verdicts.flatMap((v) =>
      v.actual.includes('transition:suspended')
        ? [`shutdown qemu/${v.a.vmid}`, `start qemu/${v.a.vmid}`]
        : [],
    );
    const actionCounts = new Map<string, number>();
    for (const act of proxmox.actions) actionCounts.set(act, (actionCounts.get(act) ?? 0) + 1);
    const actionsLost = expectedActions.filter((k) => !actionCounts.has(k)).length;
    const actionsDoubled = [...actionCounts.values()].reduce((n, c) => n + c - 1, 0);
    const actionsUnexpected = [...actionCounts.keys()].filter((k) => !expectedActions.includes(k));

    // ---- the deployment itself --------------------------------------------------------------
    const schedules = (
      JSON.parse((await s.temporal(['schedule', 'list', '-o', 'json'])) || '[]') as { scheduleId: string }[]
    ).filter((x) => x.scheduleId === RECONCILIATION_SCHEDULE_ID).length;
    const scheduleCreations = s.workerStarts.filter((out) =>
      /reconciliation schedule created/.test(out),
    ).length;
    const doctor = await s.billing(['doctor']);
    const readyz = await Promise.all(
      s.https.map(async (h) => (await fetch(`http://127.0.0.1:${h.port}/readyz`)).status),
    );
    const alive = [...s.workers, ...s.https.map((h) => h.service)].filter(
      (c) => c.child.exitCode === null && !c.child.signalCode,
    ).length;

    const statuses = JSON.stringify(Object.fromEntries([...sender.log.statuses].sort()));
    const spread = [...sender.log.acceptedByPort.values()];
    const { schema, setup, setupAgain } = s.setupOutput;
    const registered = (out = '') => (out.match(/: registered$/gm) ?? []).length;
    // The CLI answers a repeated create of the same name and type either way; both are fine.
    const inPlace = (out = '') => (out.match(/: (already )?registered$/gm) ?? []).length;
    say(
      `compose scripts: temporal-schema "${schema.trim().split('\n').at(-1)}"; temporal-setup registered ${registered(setup)} ` +
        `search attributes, and after the server restart ran again and found all ${inPlace(setupAgain)} in place`,
    );
    say(`restarts: ${restarts.join(', ')}`);
    say(
      `events: sent ${distinctEvents.size} (${repeats} repeats, ${outOfOrder} out of order; ${sender.log.attempts} POSTs, accepted ${spread.join(' / ')} by the two services, statuses ${statuses}), ` +
        `lost ${eventsLost}, doubled ${eventsDoubled}, wrong outcome ${eventsWrong.length}`,
    );
    say(
      `ladders: ${accounts.length}, completed ${completed.value}, at the rung their timeline says ${accounts.length - wrongRung.length} ` +
        `(${ambiguous} paid at a rung boundary), active now ${finalStates.filter((f) => f.state === 'active').length}`,
    );
    const dueFigure = timersMaybeDue === timersDue ? `${timersDue}` : `${timersDue}-${timersMaybeDue}`;
    say(
      `timers: fired ${timersFired} of ${dueFigure} due, early ${early.length}; deletion reviews ${reviews} of ${UNPAID}`,
    );
    say(
      `notifications: emails sent ${expectedEmails.length - emailsLost} of ${expectedEmails.length}, lost ${emailsLost}, doubled ${emailsDoubled}, unexpected ${emailsUnexpected}; ` +
        `Discord billing posts (ledger) sent ${postsLogged} of ${expectedEmails.length}, lost ${postsLost}, doubled ${postsDoubled}; ` +
        `ops posts for deletion reviews ${opsReviews}; not sent ${notDone.length}`,
    );
    say(
      `server actions: sent ${expectedActions.length - actionsLost} of ${expectedActions.length}, lost ${actionsLost}, doubled ${actionsDoubled}, unexpected ${actionsUnexpected.length}`,
    );
    say(
      `deployment: reconciliation Schedules ${schedules} (created by ${scheduleCreations} of ${s.workerStarts.length} worker starts), ` +
        `billing doctor exit ${doctor.code}, /readyz ${readyz.join(' and ')}, processes still running ${alive} of 4`,
    );
    if (wrongRung.length)
      say(
        `wrong rung: ${JSON.stringify(wrongRung.slice(0, 3).map((v) => ({ id: v.a.id, expected: v.expected, actual: v.actual, early: v.early })))}`,
      );
    if (eventsWrong.length) say(`wrong outcome: ${JSON.stringify(eventsWrong.slice(0, 5))}`);
    if (inPlace(setupAgain) !== 4) say(`temporal-setup after the restart printed:\n${setupAgain}`);
    if (doctor.code !== 0) say(`billing doctor:\n${doctor.stdout}${doctor.stderr}`);

    expect(schema).toMatch(/temporal schema up to date\s*$/);
    expect(registered(setup)).toBe(4);
    expect(inPlace(setupAgain)).toBe(4);
    expect(spread).toHaveLength(2);
    expect(Math.min(...spread)).toBeGreaterThan(0);
    expect(sender.log.gaveUp).toEqual([]);
    expect(eventsLost).toBe(0);
    expect(eventsDoubled).toBe(0);
    expect(eventsWrong).toEqual([]);
    expect(completed.value).toBe(accounts.length);
    expect(wrongRung.map((v) => v.a.id)).toEqual([]);
    expect(finalStates.every((f) => f.state === 'active')).toBe(true);
    expect(early).toEqual([]);
    expect(timersFired).toBeGreaterThanOrEqual(timersDue);
    expect(timersFired).toBeLessThanOrEqual(timersMaybeDue);
    expect(reviews).toBe(UNPAID);
    expect(emailsLost).toBe(0);
    expect(emailsDoubled).toBe(0);
    expect(emailsUnexpected).toBe(0);
    expect(postsLogged).toBe(expectedEmails.length);
    expect(postsDoubled).toBe(0);
    expect(opsReviews).toBe(UNPAID);
    expect(notDone).toEqual([]);
    expect(actionsLost).toBe(0);
    expect(actionsDoubled).toBe(0);
    expect(actionsUnexpected).toEqual([]);
    expect(schedules).toBe(1);
    expect(scheduleCreations).toBe(1);
    expect(doctor.code).toBe(0);
    expect(readyz).toEqual([200, 200]);
    expect(alive).toBe(4);
  });
});
