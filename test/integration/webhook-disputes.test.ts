// Disputes as Stripe sends them (the charge and payment intent as ids, no customer), through the
// real route, database and a time-skipping Temporal server: the account is found from what the
// service stored, from Stripe's API (the real SDK against the stand-in), or not at all — then an
// unresolved record and an ops alert. Ops alerts are posted by Temporal after the commit, so a
// Discord outage never fails a delivery.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { createDiscordChatNotifier } from '../../src/adapters/discord/chat.js';
import { buildEvent, buildInvoicePayment, newId, simulatedEvent } from '../../src/webhook/event-builders.js';
import { createStripeEventIngest } from '../../src/webhook/ingest.js';
import { createLogger } from '../../src/platform/logger.js';
import { statusQuery } from '../../src/workflows/definitions.js';
import { startStripeStandIn, type StripeStandIn } from '../support/standins/stripe-api.js';
import { discordServerError, startDiscordStandin, type DiscordStandin } from '../support/standins/discord.js';
import {
  db,
  recordingDeps,
  seedCustomer,
  testLadderClient,
  useRunningWorker,
  useTimeSkippingEnv,
  waitForState,
  waitForStatus,
} from './support/harness.js';
import { buildTestApp } from './support/http.js';
import { deliver, logRow } from './support/stripe.js';

const OPS_ID = '222222222222222222';
let discord: DiscordStandin;
let stripe: StripeStandIn;

const env = useTimeSkippingEnv();
beforeAll(async () => {
  discord = await startDiscordStandin();
  stripe = await startStripeStandIn();
});
// The worker posts ops alerts to the Discord stand-in (the rest of the adapters record).
const taskQueue = useRunningWorker(env, () =>
  createActivities({
    ...recordingDeps(),
    chat: createDiscordChatNotifier({
      billing: discord.webhookUrl('111111111111111111'),
      ops: discord.webhookUrl(OPS_ID),
      apiBaseUrl: discord.api,
      perSecond: 100,
    }),
  }),
);
let app: ReturnType<typeof buildTestApp>['app'];
let withKey: ReturnType<typeof buildTestApp>['app'];

beforeAll(async () => {
  app = buildTestApp({ client: env().client, taskQueue: taskQueue() }).app;
  withKey = buildTestApp({
    client: env().client,
    taskQueue: taskQueue(),
    env: { STRIPE_SECRET_KEY: 'sk_test_standin', STRIPE_API_BASE_URL: stripe.url },
  }).app;
  await Promise.all([app.ready(), withKey.ready()]);
});
afterAll(async () => {
  await Promise.all([app?.close(), withKey?.close()]);
  await Promise.all([discord?.close(), stripe?.close()]);
});

/** An account whose ladder is overdue (a dispute freezes a running ladder). */
async function overdueAccount() {
  const seeded = await seedCustomer(env());
  const failed = simulatedEvent('payment-failed', { customer: seeded.customer });
  expect((await deliver(app, failed)).body.status).toBe('processed');
  await waitForState(seeded.handle, 'overdue');
  return { ...seeded, invoiceId: (failed.data.object as { id: string }).id };
}

const frozenBy = (handle: Awaited<ReturnType<typeof overdueAccount>>['handle']) =>
  waitForStatus(handle, (s) => s.disputeFrozen !== null, 'dispute freeze').then((s) => s.disputeFrozen);

/** The ops alert's ledger row, once the alert workflow has run to its end. */
async function postedAlert(key: string) {
  await env().client.workflow.getHandle(`ops-alert:${key}`).result();
  return db().notification.findUniqueOrThrow({ where: { idempotencyKey: key } });
}

describe("a dispute in Stripe's shape", () => {
  it('the simulator sends the real shape: the charge as an id, no customer anywhere', () => {
    const dispute = simulatedEvent('dispute', { customer: 'cus_not_in_the_event' });
    const object = dispute.data.object;
    expect(typeof object.charge).toBe('string');
    expect(object).not.toHaveProperty('customer');
    expect(JSON.stringify(dispute)).not.toContain('cus_not_in_the_event');
  });

  it('found from a stored charge (charge.succeeded): the ladder freezes, ops hears after the commit', async () => {
    const { accountId, customer, handle } = await overdueAccount();
    const chargeId = newId('ch');
    const charge = simulatedEvent('charge-succeeded', { customer, chargeId });
    expect((await deliver(app, charge)).body).toMatchObject({ status: 'processed' });
    const dispute = simulatedEvent('dispute', { customer, chargeId });
    expect((await deliver(app, dispute)).body).toMatchObject({
      status: 'processed',
      outcome: 'disputed: ladder frozen',
    });
    expect((await frozenBy(handle))?.disputeId).toBe((dispute.data.object as { id: string }).id);
    expect((await db().billingAccount.findUniqueOrThrow({ where: { id: accountId } })).disputed).toBe(true);
    expect(await postedAlert(`stripe:${dispute.id}:dispute`)).toMatchObject({ status: 'sent', accountId });
  });

  it('a dispute while no ladder runs flags the account; the ladder a later payment failure starts is frozen by it, once', async () => {
    const { accountId, customer, handle } = await seedCustomer(env());
    const chargeId = newId('ch');
    expect((await deliver(app, simulatedEvent('charge-succeeded', { customer, chargeId }))).body.status).toBe(
      'processed',
    );
    const dispute = simulatedEvent('dispute', { customer, chargeId });
    expect((await deliver(app, dispute)).body).toMatchObject({ outcome: 'disputed: flagged' });
    const failed = simulatedEvent('payment-failed', { customer });
    expect((await deliver(app, failed)).body).toMatchObject({
      status: 'processed',
      outcome: 'ladder started or told; frozen by the open dispute',
    });
    expect((await frozenBy(handle))?.disputeId).toBe((dispute.data.object as { id: string }).id);
    await waitForState(handle, 'overdue');
    // The ladder holds it now: a repeated failure does not tell it again (an admin's resume stands).
    const again = simulatedEvent('payment-failed', {
      customer,
      invoiceId: (failed.data.object as { id: string }).id,
    });
    expect((await deliver(app, again)).body).toMatchObject({ outcome: 'ladder started or told' });
    const status = await handle.query(statusQuery);
    expect(status.history.filter((h) => h.kind === 'dispute_freeze')).toHaveLength(1);
    expect((await db().billingAccount.findUniqueOrThrow({ where: { id: accountId } })).disputed).toBe(true);
  });

  it('found from the payment intent of an invoice payment (invoice_payment.paid)', async () => {
    const { handle, invoiceId } = await overdueAccount();
    const paymentIntent = newId('pi');
    const payment = buildEvent(
      'invoice_payment.paid',
      buildInvoicePayment({ invoice: invoiceId, paymentIntent }),
    );
    expect((await deliver(app, payment)).body.status).toBe('processed');
    // A charge the service never saw, of that payment intent.
    const dispute = simulatedEvent('dispute', { customer: 'unused', paymentIntentId: paymentIntent });
    expect((await deliver(app, dispute)).body.status).toBe('processed');
    expect((await frozenBy(handle))?.disputeId).toBe((dispute.data.object as { id: string }).id);
  });

  it('found through the Stripe API when a key is set (the charge is retrieved)', async () => {
    const { customer, handle } = await overdueAccount();
    const chargeId = newId('ch');
    stripe.charges.set(chargeId, simulatedEvent('charge-succeeded', { customer, chargeId }).data.object);
    const dispute = simulatedEvent('dispute', { customer, chargeId });
    expect((await deliver(withKey, dispute)).body.status).toBe('processed');
    expect((await frozenBy(handle))?.disputeId).toBe((dispute.data.object as { id: string }).id);
    expect(stripe.requests).toContainEqual(
      expect.objectContaining({ method: 'GET', path: `/v1/charges/${chargeId}` }),
    );
  });

  it('unknown charge, no key: kept unresolved with an ops alert saying what to do; applied once the charge is known', async () => {
    const { customer, handle } = await overdueAccount();
    const chargeId = newId('ch');
    const dispute = simulatedEvent('dispute', { customer, chargeId });
    const response = await deliver(app, dispute);
    expect(response).toMatchObject({ status: 200, body: { status: 'unresolved' } });
    expect(await logRow(dispute.id)).toMatchObject({ status: 'unresolved', accountId: null });
    const alert = await postedAlert(`stripe:${dispute.id}:unresolved`);
    expect(alert.status).toBe('sent');
    const posted = discord.posted.find((m) => JSON.stringify(m.body).includes(dispute.id));
    const text = JSON.stringify(posted?.body);
    for (const hint of [chargeId, 'STRIPE_SECRET_KEY', 'charge.succeeded', 'resend']) {
      expect(text).toContain(hint);
    }
    expect((await handle.query(statusQuery)).disputeFrozen).toBeNull();

    // The charge's event arrives later (or is resent): the dispute waiting for it is applied.
    await deliver(app, simulatedEvent('charge-succeeded', { customer, chargeId }));
    expect((await frozenBy(handle))?.disputeId).toBe((dispute.data.object as { id: string }).id);
    expect(await logRow(dispute.id)).toMatchObject({ status: 'processed' });
  });
});

describe('ops alerts after the commit', () => {
  it('a Discord outage does not fail the delivery; the alert is posted once Discord is back', async () => {
    const customer = `cus_unknown${randomUUID().slice(0, 8)}`;
    // The next two posts fail (Discord's 500), as in a short outage.
    discord.script(discordServerError(), discordServerError());
    const orphan = simulatedEvent('payment-failed', { customer });
    expect(await deliver(app, orphan)).toMatchObject({ status: 200, body: { status: 'orphan' } });
    const row = await postedAlert(`stripe:${orphan.id}:orphan`);
    expect(row).toMatchObject({ status: 'sent' });
    // Retried by the alert's workflow (discord.js itself retries a 500 once within an attempt).
    expect(row.attempts).toBeGreaterThan(1);
  });

  it('an alert that could not be handed to Temporal stays queued; the sweep hands it over', async () => {
    const ingestWith = (client: Client) =>
      createStripeEventIngest({
        db: db(),
        ladder: testLadderClient(client, taskQueue(), { rpcTimeoutMs: 1_000 }),
        minAmountDueCents: 100,
        logger: createLogger('silent'),
      });
    // Temporal unreachable right after the commit: the outcome and the queued alert stay.
    const unreachable = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
    const orphan = simulatedEvent('payment-failed', { customer: `cus_unknown${randomUUID().slice(0, 8)}` });
    expect(await ingestWith(unreachable)(orphan as unknown as Stripe.Event)).toMatchObject({
      status: 'orphan',
    });
    const key = `stripe:${orphan.id}:orphan`;
    expect(await db().notification.findUniqueOrThrow({ where: { idempotencyKey: key } })).toMatchObject({
      status: 'pending',
    });
    await expect(env().client.workflow.getHandle(`ops-alert:${key}`).describe()).rejects.toThrow();

    expect(await ingestWith(env().client).sweepQueuedAlerts(0)).toBeGreaterThanOrEqual(1);
    expect(await postedAlert(key)).toMatchObject({ status: 'sent' });
    await unreachable.connection.close();
  });
});
