// A signed event whose content this version of the code cannot process is rejected: answered
// 2xx (Stripe stops retrying), stored `rejected` with its reason and the verified bytes, alerted
// to ops once — also across Stripe's redeliveries — and nothing of it applied. Events built from
// Stripe's published shapes, signed and delivered through the real route, database and Temporal.
import { WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type createRecordingChatNotifier } from '../../src/adapters/recording/chat.js';
import { SIMULATED_KINDS, simulatedEvent } from '../../src/webhook/event-builders.js';
import { createActivities } from '../../src/activities/index.js';
import { db, recordingDeps, seedCustomer, useRunningWorker, useTimeSkippingEnv } from './support/harness.js';
import { buildTestApp } from './support/http.js';
import { deliver, logRow } from './support/stripe.js';

const env = useTimeSkippingEnv();
// Ops alerts are posted by the worker (a workflow after the commit): it records them here.
const deps = recordingDeps();
const chat: ReturnType<typeof createRecordingChatNotifier> = deps.chat;
const taskQueue = useRunningWorker(env, () => createActivities(deps));
let app: ReturnType<typeof buildTestApp>['app'];

beforeAll(async () => {
  app = buildTestApp({ client: env().client, taskQueue: taskQueue() }).app;
  await app.ready();
});
afterAll(async () => {
  await app.close();
});

type InvoiceObject = Record<string, unknown>;

/** A payment_failed event of Stripe's shape, with the object changed, and its exact body. */
function unreadable(
  customer: string,
  change: (invoice: InvoiceObject) => void,
  body?: (json: string) => string,
) {
  const event = simulatedEvent('payment-failed', { customer });
  change(event.data.object);
  const json = JSON.stringify(event);
  return { event, invoiceId: (event.data.object as { id: string }).id, body: body ? body(json) : json };
}

const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

const CASES: {
  name: string;
  change?: (o: InvoiceObject) => void;
  body?: (json: string) => string;
  reason: RegExp;
}[] = [
  {
    name: 'amount_remaining missing',
    change: (o) => delete o.amount_remaining,
    reason: /^unreadable invoice: data\.object\.amount_remaining: expected a whole number/,
  },
  {
    name: 'currency missing',
    change: (o) => delete o.currency,
    reason: /^unreadable invoice: data\.object\.currency: expected a currency code/,
  },
  {
    name: 'an amount beyond what is stored',
    change: (o) => (o.amount_remaining = 1e20),
    reason: /amount_remaining: expected a number up to 2147483647/,
  },
  {
    name: 'an amount that is text',
    change: (o) => (o.amount_remaining = '2500'),
    reason: /amount_remaining: expected a whole number/,
  },
  {
    name: 'an invoice status this version does not know',
    change: (o) => (o.status = 'in_review'),
    reason: /status: expected one of draft, open, paid, uncollectible, void/,
  },
  {
    name: 'a customer that is a number',
    change: (o) => (o.customer = 42),
    reason: /customer: expected a customer id, a customer object or null/,
  },
  {
    name: 'a NUL character the database cannot store',
    change: (o) => (o.description = 'a\u0000b'),
    reason: /^the database refused a value of the event: text with a NUL character \(SQLSTATE 22P05\)$/,
  },
  {
    name: 'nesting 5,000 deep',
    body: (json) => json.replace('"metadata":{}', `"metadata":${nested(5000)}`),
    reason: /^the event is nested too deeply to process$/,
  },
];

describe('a signed event whose content cannot be processed', () => {
  it.each(CASES)(
    '$name: 2xx, stored rejected with the reason and the verified bytes, one alert across redeliveries',
    async ({ change, body: rewrite, reason }) => {
      const { customer, handle } = await seedCustomer(env());
      const { event, invoiceId, body } = unreadable(customer, change ?? (() => {}), rewrite);
      expect(body).not.toBe(JSON.stringify(simulatedEvent('payment-failed', { customer })));

      const first = await deliver(app, event, { body });
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ status: 'rejected' });
      expect(first.body.outcome).toMatch(reason);
      // Stripe resends what it got no 2xx for, and sometimes what it did: nothing is applied again.
      const again = [await deliver(app, event, { body }), await deliver(app, event, { body })];
      expect(again.map((r) => [r.status, r.body.status])).toEqual([
        [200, 'duplicate'],
        [200, 'duplicate'],
      ]);

      const row = await logRow(event.id);
      expect(row).toMatchObject({ status: 'rejected', attempts: 3, accountId: null });
      expect(row?.outcome).toMatch(reason);
      expect(Buffer.from(row!.rawBody!).toString('utf8')).toBe(body);

      // One alert, recorded in the ledger and posted once, saying what to do; no customer data.
      await env().client.workflow.getHandle(`ops-alert:stripe:${event.id}:rejected`).result();
      const posts = chat.posted.filter((p) => p.message.description.includes(event.id));
      expect(posts).toHaveLength(1);
      expect(posts[0]!.message.title).toBe('Stripe event rejected');
      expect(posts[0]!.message.description).toContain(`billing events replay ${event.id}`);
      const posted = JSON.stringify(posts[0]!.message);
      expect(posted).not.toContain(customer);
      expect(posted).not.toContain('@');
      const ledger = await db().notification.findMany({
        where: { idempotencyKey: `stripe:${event.id}:rejected` },
      });
      expect(ledger).toHaveLength(1);
      expect(ledger[0]).toMatchObject({ channel: 'discord_ops', status: 'logged' });

      // Nothing of it applied: no invoice row, no ladder.
      expect(await db().invoice.findUnique({ where: { id: invoiceId } })).toBeNull();
      await expect(handle.describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
    },
  );

  it('a subscription event without its status: rejected, not applied', async () => {
    const { accountId, customer } = await seedCustomer(env());
    const event = simulatedEvent('subscription-updated', { customer });
    delete event.data.object.status;
    const result = await deliver(app, event);
    expect(result).toMatchObject({ status: 200, body: { status: 'rejected' } });
    expect(result.body.outcome).toMatch(
      /^unreadable subscription: data\.object\.status: expected a subscription status/,
    );
    expect(await db().billingAccount.findUnique({ where: { id: accountId } })).toMatchObject({
      subscriptionStatus: null,
    });
  });

  it('a readable event is still processed (the checks are not too strict for Stripe’s own shape)', async () => {
    const { customer } = await seedCustomer(env());
    // Every kind the simulator builds, from Stripe's shapes.
    for (const kind of SIMULATED_KINDS) {
      const event = simulatedEvent(kind, { customer });
      const result = await deliver(app, event);
      expect([result.status, result.body.status], kind).not.toContain('rejected');
      expect(result.status, kind).toBe(200);
    }
  });
});
