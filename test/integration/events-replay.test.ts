// Replaying a rejected Stripe event after a fix: POST /admin/v1/events/:eventId/replay and
// `billing events replay` apply the stored event through the webhook's own ingest. Applied → the
// event's status is its outcome; still unreadable → stays rejected (422 / exit 65); not rejected
// or unknown → 409 / 404 and nothing changes; an outage on the way → 503, stays rejected; who
// replayed it and why is recorded. Real route, database and (time-skipping) Temporal server.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runEventShow, runEventsList, runReplay } from '../../src/cli/commands/events.js';
import { describeFailure, EXIT } from '../../src/cli/runtime.js';
import { projectRoot } from '../../src/dev/toolchain.js';
import { createLogger } from '../../src/platform/logger.js';
import { simulatedEvent } from '../../src/webhook/event-builders.js';
import { ingestFromConfig } from '../../src/webhook/ingest-from-config.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import {
  db,
  seedCustomer,
  testLadderClient,
  useRunningWorker,
  useTimeSkippingEnv,
  waitForState,
} from './support/harness.js';
import { adminAuth, buildTestApp, internalAuth, testConfig } from './support/http.js';
import { deliver, logRow } from './support/stripe.js';

const env = useTimeSkippingEnv();
const taskQueue = useRunningWorker(env);
let app: ReturnType<typeof buildTestApp>['app'];
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  app = buildTestApp({ client: env().client, taskQueue: taskQueue() }).app;
  await app.ready();
});
afterAll(async () => {
  await app.close();
  await Promise.all(proxies.map((p) => p.close()));
});

const who = { actor: 'ops-oncall', reason: 'fix deployed for the invoice status' };

/** A readable payment_failed event for a known customer, and its ladder's handle. */
async function failedPayment() {
  const { accountId, customer, handle } = await seedCustomer(env());
  const event = simulatedEvent('payment-failed', { customer });
  return { accountId, customer, handle, event, invoiceId: (event.data.object as { id: string }).id };
}

/**
 * The row an earlier version of the service left for an event it rejected (its rule, since
 * fixed, refused what today's code reads): status, reason and the verified bytes, written the
 * way the rejection writes them. Today's code can process the event, which is what a replay
 * after a fix meets.
 */
async function rejectedByEarlierVersion(event: ReturnType<typeof simulatedEvent>) {
  const body = JSON.stringify(event);
  await db().stripeEventLog.create({
    data: {
      id: event.id,
      type: event.type,
      createdAt: new Date(event.created * 1000),
      objectId: (event.data.object as { id: string }).id,
      payload: JSON.parse(body) as object,
      rawBody: Buffer.from(body),
      status: 'rejected',
      outcome: 'unreadable invoice: data.object.status: expected one of draft, open, paid, void',
      attempts: 1,
      processedAt: new Date(),
    },
  });
}

/** An event today's code rejects (no amount_remaining), delivered through the route. */
async function unreadableDelivered() {
  const { customer } = await seedCustomer(env());
  const event = simulatedEvent('payment-failed', { customer });
  delete event.data.object.amount_remaining;
  expect((await deliver(app, event)).body.status).toBe('rejected');
  return event;
}

const replay = (eventId: string, payload: unknown = who, headers: Record<string, string> = adminAuth) =>
  app.inject({
    method: 'POST',
    url: `/admin/v1/events/${eventId}/replay`,
    headers: { ...headers, 'content-type': 'application/json' },
    payload: JSON.stringify(payload),
  });

const replaysOf = (eventId: string) =>
  db().stripeEventReplay.findMany({ where: { eventId }, orderBy: { requestedAt: 'asc' } });

describe('POST /admin/v1/events/:eventId/replay', () => {
  it('applies a rejected event after the fix: processed, the ladder starts, the replay recorded', async () => {
    const { accountId, handle, event, invoiceId } = await failedPayment();
    await rejectedByEarlierVersion(event);

    const response = await replay(event.id);
    expect(response.statusCode).toBe(200);
    const body = response.json<{ status: string; replayId: string; accountId: string }>();
    expect(body).toMatchObject({
      eventId: event.id,
      type: 'invoice.payment_failed',
      status: 'processed',
      accountId,
    });

    await waitForState(handle, 'overdue');
    expect(await db().invoice.findUnique({ where: { id: invoiceId } })).toMatchObject({
      accountId,
      status: 'open',
    });
    expect(await logRow(event.id)).toMatchObject({
      status: 'processed',
      accountId,
      attempts: 2,
      error: null,
    });
    expect(await replaysOf(event.id)).toEqual([
      expect.objectContaining({
        id: body.replayId,
        ...who,
        result: 'processed',
        finishedAt: expect.any(Date) as unknown,
      }),
    ]);

    // Applied once: a second replay is refused, Stripe's redelivery is a duplicate.
    const again = await replay(event.id);
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({
      error: 'conflict',
      message: expect.stringMatching(/is processed, not rejected/) as unknown,
    });
    expect((await deliver(app, event)).body.status).toBe('duplicate');
    expect(await replaysOf(event.id)).toHaveLength(1);
  });

  it('an event still unreadable: 422, stays rejected with the reason, no second alert, the replay recorded', async () => {
    const event = await unreadableDelivered();
    const response = await replay(event.id);
    expect(response.statusCode).toBe(422);
    expect(response.json()).toMatchObject({
      error: 'unprocessable_event',
      message: expect.stringMatching(
        /stays rejected: unreadable invoice: data\.object\.amount_remaining/,
      ) as unknown,
    });
    expect(await logRow(event.id)).toMatchObject({
      status: 'rejected',
      outcome: expect.stringMatching(/^unreadable invoice: data\.object\.amount_remaining/) as unknown,
    });
    expect(await replaysOf(event.id)).toEqual([expect.objectContaining({ ...who, result: 'rejected' })]);
    expect(await db().notification.count({ where: { idempotencyKey: `stripe:${event.id}:rejected` } })).toBe(
      1,
    );
  });

  it('bad input, unknown and not-rejected events: documented 4xx, nothing changed', async () => {
    const { event } = await failedPayment();
    expect((await deliver(app, event)).body.status).toBe('processed');
    const rejected = await unreadableDelivered();
    const before = {
      replays: await db().stripeEventReplay.count(),
      processed: await logRow(event.id),
      rejected: await logRow(rejected.id),
    };

    const cases: [string, unknown, Record<string, string>, number, string][] = [
      [rejected.id, who, {}, 401, 'unauthorized'],
      [rejected.id, who, internalAuth, 403, 'forbidden'],
      ['not an event', who, adminAuth, 400, 'bad_request'],
      // An id of the right alphabet that no stored event has (a fuzzer feeds audit-row UUIDs).
      ['0b5e2f7c-9d4a-4c1e-8f3b-6a2d1e0c9b8a', who, adminAuth, 404, 'not_found'],
      ['evt_%00', who, adminAuth, 400, 'bad_request'],
      ['evt_..%2F..%2Fetc', who, adminAuth, 400, 'bad_request'],
      [`evt_${'a'.repeat(95)}+`, who, adminAuth, 400, 'bad_request'],
      // Over 100 characters: refused before routing, like every path parameter.
      [`evt_${'a'.repeat(97)}`, who, adminAuth, 414, 'uri_too_long'],
      [rejected.id, { actor: 'ops' }, adminAuth, 400, 'bad_request'],
      [rejected.id, { ...who, reason: 'x' }, adminAuth, 400, 'bad_request'],
      [rejected.id, { ...who, extra: true }, adminAuth, 400, 'bad_request'],
      ['evt_never_seen_here', who, adminAuth, 404, 'not_found'],
      [event.id, who, adminAuth, 409, 'conflict'],
    ];
    for (const [id, payload, headers, status, error] of cases) {
      const response = await replay(id, payload, headers);
      expect([id, response.statusCode, response.json<{ error: string }>().error]).toEqual([
        id,
        status,
        error,
      ]);
    }
    expect({
      replays: await db().stripeEventReplay.count(),
      processed: await logRow(event.id),
      rejected: await logRow(rejected.id),
    }).toEqual(before);
  });

  it('Temporal unreachable during a replay: 503, stays rejected, nothing applied; replayed once it is back', async () => {
    const [host, port] = env().address.split(':');
    const proxy = await startTcpProxy({
      host: host === 'localhost' ? '127.0.0.1' : host!,
      port: Number(port),
    });
    proxies.push(proxy);
    const connection = await Connection.connect({ address: proxy.address });
    const { app: cut } = buildTestApp({
      client: new Client({ connection }),
      taskQueue: taskQueue(),
      rpcTimeoutMs: 2000,
    });
    try {
      const { handle, event, invoiceId } = await failedPayment();
      await rejectedByEarlierVersion(event);

      proxy.down();
      const during = await cut.inject({
        method: 'POST',
        url: `/admin/v1/events/${event.id}/replay`,
        headers: { ...adminAuth, 'content-type': 'application/json' },
        payload: JSON.stringify(who),
      });
      expect(during.statusCode).toBe(503);
      expect(during.json()).toMatchObject({
        error: 'unavailable',
        message: expect.stringMatching(/stays rejected/) as unknown,
      });
      expect(await logRow(event.id)).toMatchObject({ status: 'rejected' });
      expect(await db().invoice.findUnique({ where: { id: invoiceId } })).toBeNull();
      expect(await replaysOf(event.id)).toEqual([
        expect.objectContaining({ result: 'failed', outcome: 'temporal unavailable' }),
      ]);

      proxy.up();
      let after = await replay(event.id);
      for (let i = 0; after.statusCode === 503 && i < 30; i++) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        after = await replay(event.id);
      }
      expect(after.statusCode).toBe(200);
      await waitForState(handle, 'overdue');
      expect(await logRow(event.id)).toMatchObject({ status: 'processed' });
    } finally {
      await cut.close();
      await connection.close();
    }
  });
});

describe('GET /admin/v1/events', () => {
  it('lists rejected events (the default) with their reasons; a bad status is a 400', async () => {
    const event = await unreadableDelivered();
    const response = await app.inject({
      method: 'GET',
      url: '/admin/v1/events?limit=500',
      headers: adminAuth,
    });
    expect(response.statusCode).toBe(200);
    const body = response.json<{ items: { id: string; status: string; outcome: string }[]; total: number }>();
    expect(body.items.every((e) => e.status === 'rejected')).toBe(true);
    expect(body.items.find((e) => e.id === event.id)?.outcome).toMatch(/amount_remaining/);
    expect(body.total).toBe(await db().stripeEventLog.count({ where: { status: 'rejected' } }));

    for (const url of ['/admin/v1/events?status=bogus', '/admin/v1/events?limit=0', '/admin/v1/events?x=1']) {
      expect((await app.inject({ method: 'GET', url, headers: adminAuth })).statusCode, url).toBe(400);
    }
    expect(
      (await app.inject({ method: 'GET', url: '/admin/v1/events', headers: internalAuth })).statusCode,
    ).toBe(403);
  });
});

describe('billing events', () => {
  const failureOf = (promise: Promise<unknown>) =>
    promise.then(
      () => null,
      (error: unknown) => describeFailure(error),
    );
  function sink() {
    let text = '';
    return { write: (chunk: string) => (text += chunk), text: () => text };
  }
  const cliIngest = () =>
    ingestFromConfig({
      config: testConfig({ TEMPORAL_TASK_QUEUE: taskQueue() }),
      db: db(),
      ladder: testLadderClient(env().client, taskQueue()),
      logger: createLogger('silent'),
    });

  it('list, show and replay: the core commands', async () => {
    const { handle, event } = await failedPayment();
    await rejectedByEarlierVersion(event);

    const listed = sink();
    await runEventsList({ db: db(), out: listed }, { limit: 500 });
    expect(listed.text()).toContain(event.id);
    expect(listed.text()).toMatch(/expected one of draft, open, paid, void/);

    const out = sink();
    await runReplay({ db: db(), out, ingest: cliIngest() }, event.id, who);
    expect(out.text()).toBe(
      `replayed ${event.id} (invoice.payment_failed): processed — ladder started or told\n`,
    );
    await waitForState(handle, 'overdue');

    const shown = sink();
    await runEventShow({ db: db(), out: shown }, event.id, {});
    expect(shown.text()).toMatch(new RegExp(`${event.id}  invoice.payment_failed  processed`));
    expect(shown.text()).toMatch(
      /replayed .* by ops-oncall \(fix deployed for the invoice status\): processed/,
    );

    const usage = [
      await failureOf(runReplay({ db: db(), out: sink(), ingest: cliIngest() }, 'evt_../x', who)),
      await failureOf(runReplay({ db: db(), out: sink(), ingest: cliIngest() }, event.id, { actor: 'me' })),
    ];
    expect(usage).toEqual([
      {
        exitCode: EXIT.usage,
        message: expect.stringMatching(/^<event>: expected an event id/) as unknown,
      },
      { exitCode: EXIT.usage, message: expect.stringMatching(/^--reason/) as unknown },
    ]);

    const failure = await runReplay({ db: db(), out: sink(), ingest: cliIngest() }, event.id, who).then(
      () => null,
      (error: unknown) => describeFailure(error),
    );
    expect(failure).toEqual({
      exitCode: EXIT.rejected,
      message: expect.stringMatching(/is processed, not rejected/) as unknown,
    });
  });

  const run = promisify(execFile);
  const cli = (args: string[]) =>
    run(process.execPath, [path.join('scripts', 'billing.mjs'), ...args], {
      cwd: projectRoot,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATABASE_URL: inject('databaseUrl'),
        TEMPORAL_ADDRESS: env().address,
        TEMPORAL_TASK_QUEUE: taskQueue(),
        LOG_LEVEL: 'silent',
        BILLING_DEV_ENV: 'off',
      },
    }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );

  it('the real process: exit codes of replay, and list --json', async () => {
    const { event: processed } = await failedPayment();
    expect((await deliver(app, processed)).body.status).toBe('processed');
    const rejected = await unreadableDelivered();
    const args = ['--actor', who.actor, '--reason', who.reason];

    const listed = await cli(['events', 'list', '--json', '--limit', '500']);
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as { items: { id: string }[] }).items.map((e) => e.id)).toContain(
      rejected.id,
    );

    const outcomes = {
      unknown: await cli(['events', 'replay', 'evt_never_seen_here', ...args]),
      notRejected: await cli(['events', 'replay', processed.id, ...args]),
      stillRejected: await cli(['events', 'replay', rejected.id, ...args]),
    };
    expect(Object.fromEntries(Object.entries(outcomes).map(([k, r]) => [k, r.code]))).toEqual({
      unknown: EXIT.notFound,
      notRejected: EXIT.rejected,
      stillRejected: EXIT.dataError,
    });
    expect(outcomes.stillRejected.stderr).toMatch(
      /still cannot be processed and stays rejected: unreadable invoice/,
    );
    expect(await replaysOf(rejected.id)).toEqual([expect.objectContaining({ ...who, result: 'rejected' })]);
    expect(await replaysOf(processed.id)).toEqual([]);
  });
});
