// `billing simulate`, the real CLI process, against the real HTTP service on a socket: the
// signed event goes through verification and the event log, and starts the ladder. On the dev
// server, like webhook-ingest.test.ts: a payment landing as a notification completes wedges a
// ladder on the time-skipping server (see there), and nothing here needs skipped time.
import { execFile } from 'node:child_process';
import { type AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { projectRoot } from '../../src/dev/toolchain.js';
import { db, seedCustomer, useDevServerEnv, useRunningWorker, waitForState } from './support/harness.js';
import { buildTestApp, WEBHOOK_SECRET } from './support/http.js';

const run = promisify(execFile);
const env = useDevServerEnv();
const taskQueue = useRunningWorker(env);
let app: ReturnType<typeof buildTestApp>['app'];
let url: string;

beforeAll(async () => {
  app = buildTestApp({ client: env().client, taskQueue: taskQueue() }).app;
  await app.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/webhooks/stripe`;
});
afterAll(async () => {
  await app.close();
});

function billing(args: string[]) {
  return run(process.execPath, [path.join(projectRoot, 'scripts', 'billing.mjs'), ...args], {
    cwd: projectRoot,
    env: {
      ...process.env,
      DATABASE_URL: inject('databaseUrl'),
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      BILLING_DEV_ENV: 'off',
    },
  });
}

describe('billing simulate', () => {
  it('payment-failed then paid: the ladder starts and ends, through the real webhook', async () => {
    const { accountId, handle } = await seedCustomer(env());
    const invoice = 'in_simulated_cli_1';
    const failed = await billing([
      'simulate',
      'payment-failed',
      '--account',
      accountId,
      '--invoice',
      invoice,
      '--amount',
      '3100',
      '--url',
      url,
      '--json',
    ]);
    const sent = JSON.parse(failed.stdout) as {
      eventId: string;
      status: number;
      response: { status: string };
    };
    expect(sent).toMatchObject({ status: 200, response: { status: 'processed' } });
    expect(await db().stripeEventLog.findUnique({ where: { id: sent.eventId } })).toMatchObject({
      type: 'invoice.payment_failed',
      status: 'processed',
      accountId,
    });
    const overdue = await waitForState(handle, 'overdue');
    expect(overdue.openInvoices).toEqual([expect.objectContaining({ invoiceId: invoice, amountDue: 3100 })]);

    const paid = await billing([
      'simulate',
      'paid',
      '--account',
      accountId,
      '--invoice',
      invoice,
      '--url',
      url,
    ]);
    expect(paid.stdout).toContain('invoice.paid');
    expect(paid.stdout).toContain('→ 200');
    expect(await handle.result()).toMatchObject({ outcome: 'restored' });
  });

  it("dispute: Stripe's shape (the charge as an id, no customer) after the charge's event; the ladder freezes", async () => {
    const { accountId, handle } = await seedCustomer(env());
    await billing(['simulate', 'payment-failed', '--account', accountId, '--url', url]);
    await waitForState(handle, 'overdue');
    const out = await billing(['simulate', 'dispute', '--account', accountId, '--url', url, '--json']);
    const sent = JSON.parse(out.stdout) as {
      eventId: string;
      type: string;
      response: { status: string };
      before: { type: string; response: { status: string } }[];
    };
    expect(sent.before.map((e) => [e.type, e.response.status])).toEqual([['charge.succeeded', 'processed']]);
    expect(sent).toMatchObject({
      type: 'charge.dispute.created',
      response: { status: 'processed', outcome: 'disputed: ladder frozen' },
    });
    const logged = await db().stripeEventLog.findUniqueOrThrow({ where: { id: sent.eventId } });
    const dispute = (logged.payload as { data: { object: Record<string, unknown> } }).data.object;
    expect(typeof dispute.charge).toBe('string');
    expect(dispute).not.toHaveProperty('customer');
    expect(logged.accountId).toBe(accountId);

    // Without the charge's event and without a Stripe key nobody can tell the account.
    const alone = await billing([
      'simulate',
      'dispute',
      '--account',
      accountId,
      '--no-charge-event',
      '--url',
      url,
      '--json',
    ]);
    expect(JSON.parse(alone.stdout)).toMatchObject({ response: { status: 'unresolved' }, before: [] });
  });

  it('exits 3 with a message for an unknown account, and 2 for an unknown event', async () => {
    const unknown = await billing(['simulate', 'paid', '--account', 'acct_nobody', '--url', url]).catch(
      (e: unknown) => e,
    );
    expect(unknown).toMatchObject({ code: 3 });
    expect((unknown as { stderr: string }).stderr).toContain('unknown account acct_nobody');
    const badKind = await billing(['simulate', 'refund', '--account', 'acct_nobody']).catch(
      (e: unknown) => e,
    );
    expect(badKind).toMatchObject({ code: 2 });
  });
});
