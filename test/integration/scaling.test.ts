// Several workers on one task queue (docs/scaling.md): Temporal hands each task to one of them,
// so twenty ladders run through with both workers busy and every effect exactly once. On the
// Temporal dev server (the real matching service, as in production) with the ladder shortened
// to seconds; the time-skipping test server is a poor judge of how tasks spread over pollers.
import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, type Activities } from '../../src/activities/index.js';
import { temporalCliExecutable } from '../../src/dev/toolchain.js';
import {
  createTestWorker,
  db,
  eventsOf,
  notificationsOf,
  recordingDeps,
  seedAccount,
  settle,
  startLadder,
  terminateLeftovers,
  testPolicy,
  waitForState,
  waitForStatus,
} from './support/harness.js';

const ACCOUNTS = 20;
const SECOND = 1000;

/** The real activities, each call counted for this worker. */
function countedActivities(activities: Activities, counts: Map<string, number>): Activities {
  return Object.fromEntries(
    Object.entries(activities).map(([name, fn]) => [
      name,
      (...args: unknown[]) => {
        counts.set(name, (counts.get(name) ?? 0) + 1);
        return (fn as (...a: unknown[]) => unknown)(...args);
      },
    ]),
  ) as Activities;
}

describe('two workers on one task queue', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    try {
      Runtime.install({ logger: new DefaultLogger('WARN') });
    } catch {
      // already installed by an earlier file in this process
    }
    env = await TestWorkflowEnvironment.createLocal({
      server: { executable: temporalCliExecutable(), extraArgs: ['--log-level', 'error'] },
    });
  });
  afterEach(terminateLeftovers);
  afterAll(async () => {
    await env?.teardown();
  });

  it(`${ACCOUNTS} ladders through to retained, half of them paid: both workers work, every effect once`, async () => {
    const taskQueue = `tq-${randomUUID()}`;
    const workers = [0, 1].map(() => ({ deps: recordingDeps(), counts: new Map<string, number>() }));
    // One connection each, as two worker processes would have (the SDK refuses two workers for
    // one task queue on one connection).
    const connections = await Promise.all(
      workers.map(() => NativeConnection.connect({ address: env.address })),
    );
    const [a, b] = await Promise.all(
      workers.map((w, i) =>
        createTestWorker(env, taskQueue, countedActivities(createActivities(w.deps), w.counts), {
          connection: connections[i]!,
          identity: `worker-${randomUUID().slice(0, 6)}`,
        }),
      ),
    );
    const accounts = await Promise.all(
      Array.from({ length: ACCOUNTS }, () => seedAccount({ servers: ['running', 'stopped'] })),
    );
    const started = Date.now();

    await a!.runUntil(
      b!.runUntil(async () => {
        const policy = testPolicy({
          finalWarningAfterMs: 2 * SECOND,
          suspendAfterMs: 4 * SECOND,
          retainAfterMs: 6 * SECOND,
          retentionMs: 3600 * SECOND,
        });
        const handles = await Promise.all(
          accounts.map((acct) => startLadder(env, taskQueue, acct.accountId, acct.invoiceIds[0]!, policy)),
        );
        await Promise.all(handles.map((h) => waitForState(h, 'overdue')));
        await Promise.all(
          handles.map((h) =>
            waitForStatus(h, (s) => s.history.some((e) => e.kind === 'retained'), 'retained', 90 * SECOND),
          ),
        );
        // Half pay: their ladders restore and complete.
        await Promise.all(
          handles.slice(0, ACCOUNTS / 2).map((h, i) => settle(h, accounts[i]!.invoiceIds[0]!)),
        );
        const results = await Promise.all(handles.slice(0, ACCOUNTS / 2).map((h) => h.result()));
        expect(results.map((r) => r.outcome)).toEqual(Array(ACCOUNTS / 2).fill('restored'));
        for (const h of handles.slice(ACCOUNTS / 2)) {
          expect((await h.describe()).status.name).toBe('RUNNING');
        }
      }),
    );
    await Promise.all(connections.map((c) => c.close()));
    const wallMs = Date.now() - started;
    const total = (counts: Map<string, number>) => [...counts.values()].reduce((s, n) => s + n, 0);
    const perWorker = workers.map((w) => total(w.counts));
    console.log(
      `${ACCOUNTS} ladders on two workers: ${wallMs} ms wall time; activities per worker: ${perWorker.join(' / ')}`,
    );

    // Both workers executed activities.
    expect(perWorker[0]).toBeGreaterThan(0);
    expect(perWorker[1]).toBeGreaterThan(0);

    // Every effect exactly once, whichever worker ran it.
    const shutdowns = workers.flatMap((w) => w.deps.servers.calls.filter((c) => c.startsWith('shutdown:')));
    const starts = workers.flatMap((w) => w.deps.servers.calls.filter((c) => c.startsWith('start:')));
    expect(shutdowns.sort()).toEqual(accounts.map((acct) => `shutdown:${acct.vmids[0]}`).sort());
    expect(starts.sort()).toEqual(
      accounts
        .slice(0, ACCOUNTS / 2)
        .map((acct) => `start:${acct.vmids[0]}`)
        .sort(),
    );
    for (const [i, acct] of accounts.entries()) {
      const paid = i < ACCOUNTS / 2;
      const transitions = (await eventsOf(acct.accountId))
        .filter((e) => e.kind.startsWith('transition:'))
        .map((e) => e.kind);
      expect(transitions, acct.accountId).toEqual([
        'transition:overdue',
        'transition:final_warning',
        'transition:suspended',
        'transition:retained',
        ...(paid ? ['transition:active'] : []),
      ]);
      const emails = (await notificationsOf(acct.accountId))
        .filter((n) => n.channel === 'email')
        .map((n) => n.template);
      expect(emails, acct.accountId).toEqual([
        'payment_failed',
        'final_warning',
        'suspended',
        'retained',
        ...(paid ? ['restored'] : []),
      ]);
      const account = await db().billingAccount.findUniqueOrThrow({
        where: { id: acct.accountId },
        include: { servers: { orderBy: { vmid: 'asc' } } },
      });
      expect(account.state).toBe(paid ? 'active' : 'retained');
      expect(account.servers.map((s) => [s.billingSuspended, s.powerState])).toEqual(
        paid
          ? [
              [false, 'running'],
              [false, 'stopped'],
            ]
          : [
              [true, 'stopped'],
              [true, 'stopped'],
            ],
      );
    }
  }, 240_000);
});
