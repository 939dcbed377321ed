// 2xx only when safe: with PostgreSQL or Temporal unreachable the webhook answers 503, so
// Stripe redelivers; the redelivery is applied exactly once. The outages are real cut
// connections (a TCP proxy in front of each server), not stand-ins for our own code.
import { Connection, Client } from '@temporalio/client';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createPrisma } from '../../src/platform/database.js';
import { simulatedEvent } from '../../src/webhook/event-builders.js';
import { statusQuery } from '../../src/workflows/definitions.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { db, seedCustomer, useRunningWorker, useTimeSkippingEnv, waitForState } from './support/harness.js';
import { buildTestApp } from './support/http.js';
import { deliver, logRow } from './support/stripe.js';

const env = useTimeSkippingEnv();
const taskQueue = useRunningWorker(env);
const proxies: TcpProxy[] = [];

afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
});

const customer = () => seedCustomer(env());

function hostPort(address: string) {
  const [host, port] = address.split(':');
  return { host: host === 'localhost' ? '127.0.0.1' : host!, port: Number(port) };
}

describe('PostgreSQL unreachable', () => {
  it('answers 503 and records nothing; the redelivery is applied once', async () => {
    const url = new URL(inject('databaseUrl'));
    const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port) });
    proxies.push(proxy);
    const viaProxy = new URL(url);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const appDb = createPrisma(viaProxy.toString(), { max: 2 });
    const { app } = buildTestApp({ client: env().client, taskQueue: taskQueue(), db: appDb });
    try {
      const { customer: cus, handle } = await customer();
      const event = simulatedEvent('payment-failed', { customer: cus });

      proxy.down();
      const during = await deliver(app, event);
      expect(during.status).toBe(503);
      expect(during.body.error).toBe('unavailable');
      expect(await logRow(event.id)).toBeNull();

      proxy.up();
      const after = await deliver(app, event);
      expect(after).toMatchObject({ status: 200, body: { status: 'processed' } });
      const again = await deliver(app, event);
      expect(again.body.status).toBe('duplicate');

      const status = await waitForState(handle, 'overdue');
      expect(status.openInvoices[0]?.failures).toBe(1);
      expect(await logRow(event.id)).toMatchObject({ status: 'processed', attempts: 2 });
    } finally {
      await app.close();
      await appDb.$disconnect();
    }
  });
});

describe('Temporal unreachable', () => {
  it('answers 503 after recording the event as failed; the redelivery is applied once', async () => {
    const proxy = await startTcpProxy(hostPort(env().address));
    proxies.push(proxy);
    const connection = await Connection.connect({ address: proxy.address });
    const client = new Client({ connection });
    const { app } = buildTestApp({ client, taskQueue: taskQueue(), rpcTimeoutMs: 2000 });
    try {
      const { customer: cus, handle } = await customer();
      const event = simulatedEvent('payment-failed', { customer: cus });
      const invoiceId = (event.data.object as { id: string }).id;

      proxy.down();
      const during = await deliver(app, event);
      expect(during.status).toBe(503);
      const failed = await logRow(event.id);
      expect(failed).toMatchObject({ status: 'failed', attempts: 1 });
      expect(failed?.error).toBeTruthy();
      // The effect's database writes went back with the failed attempt.
      expect(await db().invoice.findUnique({ where: { id: invoiceId } })).toBeNull();

      proxy.up();
      // Like Stripe: redeliver until answered 2xx (the client reconnects with its own backoff).
      const statuses: number[] = [];
      let after = await deliver(app, event);
      statuses.push(after.status);
      for (let i = 0; after.status !== 200 && i < 30; i++) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        after = await deliver(app, event);
        statuses.push(after.status);
      }
      expect(after).toMatchObject({ status: 200, body: { status: 'processed' } });
      expect(statuses.filter((s) => s !== 503 && s !== 200)).toEqual([]);
      expect((await deliver(app, event)).body.status).toBe('duplicate');

      await waitForState(handle, 'overdue');
      expect((await handle.query(statusQuery)).openInvoices[0]?.failures).toBe(1);
      expect(await logRow(event.id)).toMatchObject({
        status: 'processed',
        attempts: statuses.length + 2,
        error: null,
      });
    } finally {
      await app.close();
      await connection.close();
    }
  });
});
