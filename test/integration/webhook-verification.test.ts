// POST /webhooks/stripe: what is not a genuine, current Stripe delivery is refused with 400 and
// leaves no trace; what is, is recorded — also when we do nothing with it.
import { randomUUID } from 'node:crypto';
import { Connection, Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEvent, signPayload, simulatedEvent } from '../../src/webhook/event-builders.js';
import { db, seedAccount } from './support/harness.js';
import { buildTestApp, WEBHOOK_SECRET, WEBHOOK_SECRET_ROTATED } from './support/http.js';
import { deliver, logRow } from './support/stripe.js';

// No workflow is started by these requests (or Temporal is never reached): a client that is
// never connected is enough.
const client = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
const { app } = buildTestApp({ client, taskQueue: `tq-${randomUUID()}` });

beforeAll(async () => {
  await app.ready();
});
afterAll(async () => {
  await app.close();
});

const now = () => Math.floor(Date.now() / 1000);

function failedEvent(customer = 'cus_unknown_customer') {
  return simulatedEvent('payment-failed', { customer });
}

async function expectRejected(event: { id: string }, response: { status: number }, status = 400) {
  expect(response.status).toBe(status);
  expect(await logRow(event.id)).toBeNull();
}

describe('signature checks', () => {
  it('refuses a signature made with another secret', async () => {
    const event = failedEvent();
    await expectRejected(event, await deliver(app, event, { secret: 'whsec_someone_else_0123456789' }));
  });

  it('refuses a tampered body', async () => {
    const event = failedEvent();
    const signed = JSON.stringify(event);
    const tampered = signed.replace('"amount_due":2500', '"amount_due":1');
    expect(tampered).not.toBe(signed);
    const response = await app.inject({
      method: 'POST',
      url: '/webhooks/stripe',
      headers: {
        'content-type': 'application/json',
        'stripe-signature': signPayload(signed, WEBHOOK_SECRET),
      },
      payload: tampered,
    });
    await expectRejected(event, { status: response.statusCode });
  });

  it('refuses a timestamp older than Stripe’s tolerance (5 minutes)', async () => {
    const event = failedEvent();
    await expectRejected(event, await deliver(app, event, { timestamp: now() - 301 }));
  });

  it('refuses a timestamp more than 5 minutes in the future', async () => {
    const event = failedEvent();
    // A minute past the limit: at +301 s, a loaded machine reaching the check a second later
    // found the timestamp exactly at the limit, and accepted it (CI failed so).
    await expectRejected(event, await deliver(app, event, { timestamp: now() + 360 }));
  });

  it('refuses a header with two timestamps, even when one of them carries a valid signature', async () => {
    const event = failedEvent();
    const payload = JSON.stringify(event);
    // A valid, current signature plus a second t= far in the past: the future check must not
    // read one timestamp while stripe-node verifies the other.
    const header = `t=${now() - 86_400},${signPayload(payload, WEBHOOK_SECRET)}`;
    const response = await app.inject({
      method: 'POST',
      url: '/webhooks/stripe',
      headers: { 'content-type': 'application/json', 'stripe-signature': header },
      payload,
    });
    await expectRejected(event, { status: response.statusCode });
    expect(response.json<{ message: string }>().message).toMatch(/more than one timestamp/);
  });

  it('refuses a request without Stripe-Signature', async () => {
    const event = failedEvent();
    const response = await app.inject({
      method: 'POST',
      url: '/webhooks/stripe',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(event),
    });
    await expectRejected(event, { status: response.statusCode });
  });

  it('refuses a body that was parsed and serialized again on the way', async () => {
    const event = failedEvent();
    const original = JSON.stringify(event);
    const reserialized = JSON.stringify(JSON.parse(original), null, 2);
    const response = await app.inject({
      method: 'POST',
      url: '/webhooks/stripe',
      headers: {
        'content-type': 'application/json',
        'stripe-signature': signPayload(original, WEBHOOK_SECRET),
      },
      payload: reserialized,
    });
    await expectRejected(event, { status: response.statusCode });
  });

  it('accepts either secret while one is being rotated', async () => {
    for (const secret of [WEBHOOK_SECRET, WEBHOOK_SECRET_ROTATED]) {
      const event = buildEvent('customer.created', {
        id: `cus_${randomUUID().slice(0, 8)}`,
        object: 'customer',
      });
      const response = await deliver(app, event, { secret });
      expect(response.status).toBe(200);
      expect((await logRow(event.id))?.status).toBe('ignored');
    }
  });
});

describe('request shape', () => {
  it('answers 413 for a body over 1 MiB', async () => {
    const event = buildEvent('customer.updated', {
      id: 'cus_big',
      object: 'customer',
      padding: 'x'.repeat(2 * 1024 * 1024),
    });
    await expectRejected(event, await deliver(app, event), 413);
  });

  it('answers 400 for a signed body that is not JSON', async () => {
    const response = await deliver(app, null, { body: 'this is not json' });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('bad_request');
  });

  it('answers 400 for signed JSON that is not a Stripe event', async () => {
    const response = await deliver(app, null, { body: JSON.stringify({ hello: 'world' }) });
    expect(response.status).toBe(400);
  });

  it('answers 415 for a content type other than JSON', async () => {
    const event = failedEvent();
    const payload = JSON.stringify(event);
    const response = await app.inject({
      method: 'POST',
      url: '/webhooks/stripe',
      headers: { 'content-type': 'text/plain', 'stripe-signature': signPayload(payload, WEBHOOK_SECRET) },
      payload,
    });
    await expectRejected(event, { status: response.statusCode }, 415);
  });
});

describe('verified events we do not act on', () => {
  it('records an unhandled type as ignored and answers 200', async () => {
    const event = buildEvent('customer.created', { id: 'cus_new', object: 'customer' });
    const response = await deliver(app, event);
    expect(response.status).toBe(200);
    expect(response.body.status).toBe('ignored');
    const row = await logRow(event.id);
    expect(row).toMatchObject({ status: 'ignored', type: 'customer.created', attempts: 1 });
  });

  it('records an event for an unknown customer as orphan, queues one ops alert, answers 200 (Temporal down: the alert waits for the sweep)', async () => {
    const event = failedEvent(`cus_orphan_${randomUUID().slice(0, 8)}`);
    for (let i = 0; i < 2; i++) {
      const response = await deliver(app, event);
      expect(response.status).toBe(200);
    }
    expect(await logRow(event.id)).toMatchObject({ status: 'orphan', attempts: 2, accountId: null });
    const alerts = await db().notification.findMany({
      where: { idempotencyKey: `stripe:${event.id}:orphan` },
    });
    expect(alerts).toHaveLength(1);
    // Handed to Temporal after the commit; Temporal is unreachable here, so it stays queued.
    expect(alerts[0]).toMatchObject({ channel: 'discord_ops', status: 'pending' });
    expect(alerts[0]?.detail).toContain('no account has this Stripe customer id');
  });

  it('records a signed dispute without a charge as unresolved (answered 200, not retried for days)', async () => {
    const event = buildEvent('charge.dispute.created', { id: 'du_without_charge', object: 'dispute' });
    const response = await deliver(app, event);
    expect(response).toMatchObject({ status: 200, body: { status: 'unresolved' } });
    expect(await logRow(event.id)).toMatchObject({ status: 'unresolved' });
  });

  it('records a subscription change on the account, never overwritten by an older one', async () => {
    const { accountId } = await seedAccount();
    const account = await db().billingAccount.findUniqueOrThrow({ where: { id: accountId } });
    const customer = account.stripeCustomerId!;
    const newer = simulatedEvent('subscription-deleted', { customer, created: now() - 10 });
    const older = simulatedEvent('subscription-updated', { customer, created: now() - 100 });
    expect((await deliver(app, newer)).status).toBe(200);
    expect((await deliver(app, older)).body.status).toBe('stale');
    const after = await db().billingAccount.findUniqueOrThrow({ where: { id: accountId } });
    expect(after.subscriptionStatus).toBe('canceled');
  });
});
