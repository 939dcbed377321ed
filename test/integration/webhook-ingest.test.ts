// Verified events through the real route, the real database and a real Temporal server (the
// CLI's dev server): each effect happens once, whatever the duplication and the order of
// deliveries. Not the time-skipping server: a payment that lands in the same workflow task as a
// notification's completion makes the ladder cancel that notification, and the time-skipping
// server then refuses the task (ACTIVITY_UNKNOWN) and never hands it out again — a known bug of
// that server only; the real server handles it. These tests need no skipped time.
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEvent, simulatedEvent } from '../../src/webhook/event-builders.js';
import { statusQuery } from '../../src/workflows/definitions.js';
import {
  db,
  notificationsOf,
  seedCustomer,
  useRunningWorker,
  useDevServerEnv,
  waitForState,
  waitForStatus,
} from './support/harness.js';
import { buildTestApp } from './support/http.js';
import { deliver, logRow } from './support/stripe.js';

const env = useDevServerEnv();
const taskQueue = useRunningWorker(env);
let app: ReturnType<typeof buildTestApp>['app'];

beforeAll(async () => {
  app = buildTestApp({ client: env().client, taskQueue: taskQueue() }).app;
  await app.ready();
});
afterAll(async () => {
  await app.close();
});

const customer = () => seedCustomer(env());

const now = () => Math.floor(Date.now() / 1000);

describe('each event delivered 5 times at once', () => {
  it('one log row, one ladder, one transition, one email; then one restore', async () => {
    const { accountId, customer: cus, handle } = await customer();
    const failed = simulatedEvent('payment-failed', { customer: cus });
    const invoiceId = (failed.data.object as { id: string }).id;

    const responses = await Promise.all(Array.from({ length: 5 }, () => deliver(app, failed)));
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(responses.filter((r) => r.body.status === 'processed')).toHaveLength(1);
    expect(responses.filter((r) => r.body.status === 'duplicate')).toHaveLength(4);
    expect(await db().stripeEventLog.count({ where: { id: failed.id } })).toBe(1);
    expect(await logRow(failed.id)).toMatchObject({ status: 'processed', attempts: 5, accountId });

    const overdue = await waitForState(handle, 'overdue');
    expect(overdue.openInvoices).toEqual([expect.objectContaining({ invoiceId, failures: 1 })]);
    const transitions = await db().billingEnforcementEvent.count({
      where: { accountId, kind: 'transition:overdue' },
    });
    expect(transitions).toBe(1);
    const emails = (await notificationsOf(accountId)).filter((n) => n.channel === 'email');
    expect(emails.map((n) => n.template)).toEqual(['payment_failed']);

    const paid = simulatedEvent('paid', { customer: cus, invoiceId });
    const paidResponses = await Promise.all(Array.from({ length: 5 }, () => deliver(app, paid)));
    expect(paidResponses.filter((r) => r.body.status === 'processed')).toHaveLength(1);
    expect(await handle.result()).toMatchObject({ outcome: 'restored', finalState: 'active' });
    const restoredEmails = (await notificationsOf(accountId)).filter(
      (n) => n.channel === 'email' && n.template === 'restored',
    );
    expect(restoredEmails).toHaveLength(1);
    expect(await db().invoice.findUniqueOrThrow({ where: { id: invoiceId } })).toMatchObject({
      status: 'paid',
      amountDue: 0,
    });
  });
});

describe('every order of {failed, failed again (Smart Retry), paid} for one invoice', () => {
  const orders = [
    ['F1', 'F2', 'P'],
    ['F1', 'P', 'F2'],
    ['F2', 'F1', 'P'],
    ['F2', 'P', 'F1'],
    ['P', 'F1', 'F2'],
    ['P', 'F2', 'F1'],
  ] as const;

  for (const order of orders) {
    it(`${order.join(' → ')} ends paid, with at most one ladder run`, async () => {
      const { accountId, customer: cus, handle } = await customer();
      const invoiceId = `in_${randomUUID().slice(0, 14)}`;
      const t0 = now() - 7200;
      const events = {
        F1: simulatedEvent('payment-failed', { customer: cus, invoiceId, created: t0 }),
        F2: simulatedEvent('payment-failed', { customer: cus, invoiceId, created: t0 + 3600 }),
        P: simulatedEvent('paid', { customer: cus, invoiceId, created: t0 + 5400 }),
      };
      const outcomes: string[] = [];
      let firstRunId: string | undefined;
      for (const name of order) {
        const response = await deliver(app, events[name]);
        expect(response.status).toBe(200);
        outcomes.push(`${name}:${response.body.status}`);
        if (!firstRunId && response.body.status === 'processed' && name !== 'P') {
          firstRunId = (await handle.describe()).runId;
        }
      }

      const ladderStarted = order.indexOf('P') > 0;
      if (ladderStarted) {
        expect(await handle.result()).toMatchObject({ finalState: 'active' });
        // Still the first run: nothing after the payment started a second one.
        const latest = await handle.describe();
        expect(latest.runId).toBe(firstRunId);
        expect(latest.status.name).toBe('COMPLETED');
      } else {
        await expect(handle.describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
      }
      // Failures after the payment were stale: they never reached a workflow.
      for (const name of order.slice(order.indexOf('P') + 1)) {
        expect(outcomes).toContain(`${name}:stale`);
      }
      const invoice = await db().invoice.findUniqueOrThrow({ where: { id: invoiceId } });
      expect(invoice.status).toBe('paid');
      // The newest event's time, read back through Prisma: raw SQL and Prisma agree on UTC.
      expect(invoice.lastEventCreatedAt.getTime()).toBe((t0 + 5400) * 1000);
      expect((await db().billingAccount.findUniqueOrThrow({ where: { id: accountId } })).state).toBe(
        'active',
      );
    });
  }
});

describe('an older event after a newer one for the same invoice', () => {
  it('a newer payment_failed, then an older one: the older is stale, counted once, the newer time kept', async () => {
    const { customer: cus, handle } = await customer();
    const invoiceId = `in_${randomUUID().slice(0, 14)}`;
    const t0 = now() - 7200;
    const newer = simulatedEvent('payment-failed', { customer: cus, invoiceId, created: t0 + 3600 });
    const older = simulatedEvent('payment-failed', { customer: cus, invoiceId, created: t0 });

    expect((await deliver(app, newer)).body.status).toBe('processed');
    await waitForState(handle, 'overdue');
    const response = await deliver(app, older);

    // Right after the older delivery (a signal the webhook had sent would be applied before this
    // query answers): the ladder counted one failure, and the row still carries the newer event.
    expect((await handle.query(statusQuery)).openInvoices).toEqual([
      expect.objectContaining({ invoiceId, failures: 1 }),
    ]);
    const invoice = await db().invoice.findUniqueOrThrow({ where: { id: invoiceId } });
    expect(invoice.lastEventCreatedAt.getTime()).toBe((t0 + 3600) * 1000);
    expect(invoice.lastEventId).toBe(newer.id);
    expect(response.body).toMatchObject({
      status: 'stale',
      outcome: 'older than the last event applied to this invoice',
    });
  });
});

describe('a redelivered event that was not applied', () => {
  it('an orphan (unknown customer) answers "duplicate" the second time', async () => {
    const orphan = simulatedEvent('payment-failed', { customer: `cus_unknown${randomUUID().slice(0, 8)}` });
    const first = await deliver(app, orphan);
    expect(first.body.status).toBe('orphan');
    const again = await deliver(app, orphan);
    expect(again).toMatchObject({ status: 200, body: { status: 'duplicate', outcome: first.body.outcome } });
    expect(await logRow(orphan.id)).toMatchObject({ status: 'orphan', attempts: 2 });
  });

  it('an ignored event (a type not handled, an amount below the minimum) answers "duplicate" the second time', async () => {
    const { customer: cus } = await customer();
    const unhandled = buildEvent('customer.created', { id: cus, object: 'customer' });
    const small = simulatedEvent('payment-failed', { customer: cus, amount: 50 });
    for (const event of [unhandled, small]) {
      const first = await deliver(app, event);
      expect(first.body.status).toBe('ignored');
      const again = await deliver(app, event);
      expect(again).toMatchObject({
        status: 200,
        body: { status: 'duplicate', outcome: first.body.outcome },
      });
      expect(await logRow(event.id)).toMatchObject({ status: 'ignored', attempts: 2 });
    }
  });
});

describe('effects', () => {
  it('an invoice below the policy minimum starts no ladder', async () => {
    const { customer: cus, handle } = await customer();
    const small = simulatedEvent('payment-failed', { customer: cus, amount: 50 });
    const response = await deliver(app, small);
    expect(response.body.status).toBe('ignored');
    await expect(handle.describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  });

  it('a dispute flags the account, freezes the ladder and alerts ops', async () => {
    const { accountId, customer: cus, handle } = await customer();
    await deliver(app, simulatedEvent('payment-failed', { customer: cus }));
    await waitForState(handle, 'overdue');
    // Stripe's dispute names only its charge: the charge's own event told which customer paid.
    const charge = simulatedEvent('charge-succeeded', { customer: cus });
    await deliver(app, charge);
    const dispute = simulatedEvent('dispute', {
      customer: cus,
      chargeId: (charge.data.object as { id: string }).id,
    });
    expect((await deliver(app, dispute)).body.status).toBe('processed');
    const frozen = await waitForStatus(handle, (s) => s.disputeFrozen !== null, 'dispute freeze');
    expect(frozen.disputeFrozen?.disputeId).toBe((dispute.data.object as { id: string }).id);
    expect((await db().billingAccount.findUniqueOrThrow({ where: { id: accountId } })).disputed).toBe(true);
    const alerts = await db().notification.findMany({
      where: { idempotencyKey: `stripe:${dispute.id}:dispute` },
    });
    expect(alerts).toHaveLength(1);
  });

  it('marked uncollectible is recorded and does not restore', async () => {
    const { customer: cus, handle } = await customer();
    const failed = simulatedEvent('payment-failed', { customer: cus });
    const invoiceId = (failed.data.object as { id: string }).id;
    await deliver(app, failed);
    await waitForState(handle, 'overdue');
    const response = await deliver(app, simulatedEvent('uncollectible', { customer: cus, invoiceId }));
    expect(response.body.status).toBe('processed');
    expect((await db().invoice.findUniqueOrThrow({ where: { id: invoiceId } })).status).toBe('uncollectible');
    expect((await handle.query(statusQuery)).state).toBe('overdue');
  });

  it('a voided invoice settles the ladder', async () => {
    const { customer: cus, handle } = await customer();
    const failed = simulatedEvent('payment-failed', { customer: cus });
    const invoiceId = (failed.data.object as { id: string }).id;
    await deliver(app, failed);
    await waitForState(handle, 'overdue');
    await deliver(app, simulatedEvent('voided', { customer: cus, invoiceId }));
    expect(await handle.result()).toMatchObject({ outcome: 'restored' });
    expect((await db().invoice.findUniqueOrThrow({ where: { id: invoiceId } })).status).toBe('void');
  });
});
