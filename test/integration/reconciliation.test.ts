// Reconciliation against a Stripe API stand-in (the real stripe SDK, Stripe's wire format): a
// missed payment_failed starts the ladder, a missed paid restores, and a second run changes
// nothing. Also the webhook's re-fetch of the invoice before a ladder starts.
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { createLogger } from '../../src/platform/logger.js';
import { opsAlerter } from '../../src/notifications/ops-alerts.js';
import {
  createReconciliationActivities,
  type ReconcileOutcome,
} from '../../src/reconciliation/activities.js';
import { createStripeClient } from '../../src/adapters/stripe/client.js';
import { buildInvoice, simulatedEvent } from '../../src/webhook/event-builders.js';
import { createLadderClient } from '../../src/ladder/client.js';
import { startStripeStandIn, type StripeStandIn } from '../support/standins/stripe-api.js';
import {
  db,
  recordingDeps,
  seedCustomer,
  testPolicy,
  useRunningWorker,
  useTimeSkippingEnv,
  waitForState,
} from './support/harness.js';
import { buildTestApp } from './support/http.js';
import { deliver } from './support/stripe.js';

const env = useTimeSkippingEnv();
const STRIPE_KEY = 'sk_test_standin_0123456789';
let stripeApi: StripeStandIn;
let app: ReturnType<typeof buildTestApp>['app'];

beforeAll(async () => {
  stripeApi = await startStripeStandIn();
});
const taskQueue = useRunningWorker(env, (queue) => {
  const activities = createActivities(recordingDeps());
  const ladder = createLadderClient({
    client: env().client,
    taskQueue: queue,
    policy: testPolicy(),
    publishSearchAttributes: false,
  });
  return {
    ...activities,
    ...createReconciliationActivities({
      db: db(),
      ladder,
      stripe: createStripeClient({ secretKey: STRIPE_KEY, apiBaseUrl: stripeApi.url }),
      minAmountDueCents: 100,
      alertOps: opsAlerter(activities),
      logger: createLogger('silent'),
    }),
  };
});
beforeAll(async () => {
  app = buildTestApp({
    client: env().client,
    taskQueue: taskQueue(),
    env: { STRIPE_SECRET_KEY: STRIPE_KEY, STRIPE_API_BASE_URL: stripeApi.url },
  }).app;
  await app.ready();
});
afterAll(async () => {
  await app.close();
  await stripeApi.close();
});

const customer = () => seedCustomer(env());

function reconcile(): Promise<ReconcileOutcome> {
  return env().client.workflow.execute('reconciliationWorkflow', {
    workflowId: `reconcile-${randomUUID()}`,
    taskQueue: taskQueue(),
    args: [],
  });
}

function report(outcome: ReconcileOutcome) {
  if (outcome.skipped) throw new Error(`reconciliation skipped: ${outcome.reason}`);
  return outcome;
}

describe('reconciliation', () => {
  it('starts a missed ladder, settles a missed payment, and a second run changes nothing', async () => {
    // A: Stripe failed to charge, the webhook never arrived.
    const a = await customer();
    const missedFailure = buildInvoice({ customer: a.customer, status: 'open', attemptCount: 1 });
    stripeApi.invoices.set(missedFailure.id as string, missedFailure);
    // B: the ladder runs, then the customer paid and the invoice.paid webhook never arrived.
    const b = await customer();
    const bInvoice = buildInvoice({ customer: b.customer, status: 'open', attemptCount: 1 });
    stripeApi.invoices.set(bInvoice.id as string, bInvoice);
    const failed = simulatedEvent('payment-failed', {
      customer: b.customer,
      invoiceId: bInvoice.id as string,
    });
    expect((await deliver(app, failed)).body.status).toBe('processed');
    await waitForState(b.handle, 'overdue');
    stripeApi.invoices.set(bInvoice.id as string, {
      ...bInvoice,
      status: 'paid',
      amount_remaining: 0,
      amount_paid: 2500,
    });
    // C: open but never attempted (not past due): not ours to chase yet.
    const c = await customer();
    const notYetDue = buildInvoice({ customer: c.customer, status: 'open', attemptCount: 0 });
    stripeApi.invoices.set(notYetDue.id as string, notYetDue);

    const first = report(await reconcile());
    expect(first.started).toEqual([{ accountId: a.accountId, invoiceId: missedFailure.id }]);
    expect(first.settled).toEqual([{ accountId: b.accountId, invoiceId: bInvoice.id, status: 'paid' }]);
    await waitForState(a.handle, 'overdue');
    expect(await b.handle.result()).toMatchObject({ outcome: 'restored' });
    await expect(c.handle.describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
    const drift = await db().notification.count({
      where: { channel: 'discord_ops', template: 'Reconciliation healed missed Stripe events' },
    });
    expect(drift).toBeGreaterThanOrEqual(1);

    const second = report(await reconcile());
    expect(second.started).toEqual([]);
    expect(second.settled).toEqual([]);
    expect(second.openInStripe).toBe(first.openInStripe);
    expect(stripeApi.requests.every((r) => r.authorization === `Bearer ${STRIPE_KEY}`)).toBe(true);
  });
});

describe('re-fetch before a ladder starts', () => {
  it('a payment_failed for an invoice Stripe already reports paid starts nothing', async () => {
    const { customer: cus, handle } = await customer();
    const invoice = buildInvoice({ customer: cus, status: 'paid' });
    stripeApi.invoices.set(invoice.id as string, invoice);
    const late = simulatedEvent('payment-failed', { customer: cus, invoiceId: invoice.id as string });
    const response = await deliver(app, late);
    expect(response.body).toMatchObject({ status: 'stale' });
    expect(response.body.outcome).toContain('paid');
    await expect(handle.describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
    expect((await db().invoice.findUniqueOrThrow({ where: { id: invoice.id as string } })).status).toBe(
      'paid',
    );
  });

  it('a dispute delivered with the charge id is mapped to its customer through the API', async () => {
    const { accountId, customer: cus } = await customer();
    const chargeId = `ch_${randomUUID().slice(0, 12)}`;
    stripeApi.charges.set(chargeId, {
      id: chargeId,
      object: 'charge',
      customer: cus,
      amount: 2500,
      currency: 'usd',
    });
    const dispute = simulatedEvent('dispute', { customer: cus });
    (dispute.data.object as { charge: unknown }).charge = chargeId;
    const response = await deliver(app, dispute);
    expect(response.body.status).toBe('processed');
    expect((await db().billingAccount.findUniqueOrThrow({ where: { id: accountId } })).disputed).toBe(true);
  });
});
