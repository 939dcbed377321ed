// Database round trips per webhook delivery, counted at the driver (every query node-postgres
// sends for the app's pool): the figure the ingest's speed depends on besides Temporal's call.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatedEvent } from '../../src/webhook/event-builders.js';
import { seedCustomer, useRunningWorker, useTimeSkippingEnv } from './support/harness.js';
import { buildTestApp } from './support/http.js';
import { deliver } from './support/stripe.js';

const env = useTimeSkippingEnv();
const taskQueue = useRunningWorker(env);
let app: ReturnType<typeof buildTestApp>['app'];
const sent: string[] = [];
// eslint-disable-next-line @typescript-eslint/unbound-method -- wrapped below, restored after
const original = pg.Client.prototype.query;

beforeAll(async () => {
  app = buildTestApp({ client: env().client, taskQueue: taskQueue() }).app;
  await app.ready();
  // Counts every client of this process; the test itself queries nothing while counting.
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const first = args[0];
    sent.push(typeof first === 'string' ? first : String((first as { text?: string })?.text ?? first));
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
});
afterAll(async () => {
  pg.Client.prototype.query = original;
  await app.close();
});

async function count(run: () => Promise<unknown>) {
  sent.length = 0;
  await run();
  return [...sent];
}

describe('round trips per delivery', () => {
  it('a new invoice event, its redelivery', async () => {
    const { customer } = await seedCustomer(env());
    const failed = simulatedEvent('payment-failed', { customer });
    const first = await count(() => deliver(app, failed));
    const again = await count(() => deliver(app, failed));
    // Was 9: a separate account lookup, BEGIN, the lock and the invoice's row each on their own,
    // and the event's status read again under the lock. Now the delivery's record finds the
    // account, BEGIN + lock + invoice row share one message, and markDone's condition catches a
    // concurrent copy.
    expect(first.map((q) => q.trim().replace(/\s+/g, ' ').slice(0, 80))).toEqual([
      expect.stringMatching(/^WITH logged AS \( INSERT INTO "StripeEventLog"/),
      expect.stringMatching(/^BEGIN; SELECT pg_advisory_xact_lock\(hashtext\('stripe-account:/),
      expect.stringMatching(/^INSERT INTO "Invoice"/),
      expect.stringMatching(/^UPDATE "StripeEventLog"/),
      'COMMIT',
    ]);
    expect(first[1]).toContain('FROM "Invoice" WHERE id =');
    // A payment failure also reads, in that message, a dispute that came while no ladder ran.
    expect(first[1]).toContain("type = 'charge.dispute.created'");
    expect(again).toHaveLength(1);
  });
});
