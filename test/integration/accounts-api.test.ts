// PUT /v1/accounts/:id (the main API keeps accounts in sync) and GET /v1/accounts/:id/billing.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatedEvent } from '../../src/webhook/event-builders.js';
import { workflowIdFor } from '../../src/workflows/definitions.js';
import {
  db,
  terminateAfterTest,
  useRunningWorker,
  useTimeSkippingEnv,
  waitForState,
} from './support/harness.js';
import { adminAuth, buildTestApp, internalAuth } from './support/http.js';
import { deliver } from './support/stripe.js';

const env = useTimeSkippingEnv();
const taskQueue = useRunningWorker(env);
let app: ReturnType<typeof buildTestApp>['app'];

beforeAll(async () => {
  app = buildTestApp({ client: env().client, taskQueue: taskQueue() }).app;
  await app.ready();
});
afterAll(async () => {
  await app.close();
});

let vmid = 700_000_000 + Math.floor(Math.random() * 1_000_000) * 10;
const newAccount = () => ({
  id: `acct_${randomUUID().slice(0, 10)}`,
  body: {
    stripeCustomerId: `cus_${randomUUID().replaceAll('-', '').slice(0, 14)}`,
    email: 'owner@customer.example.test',
    name: 'Owner',
    servers: [
      { vmid: vmid++, node: 'pve1', kind: 'qemu', name: 'survival' },
      { vmid: vmid++, node: 'pve2', kind: 'lxc', name: 'lobby' },
    ],
  },
});

const put = (id: string, body: unknown, headers: Record<string, string> = internalAuth) =>
  app.inject({ method: 'PUT', url: `/v1/accounts/${id}`, headers, payload: body as object });

describe('PUT /v1/accounts/:accountId', () => {
  it('creates the account (201), and the same request again changes nothing (200)', async () => {
    const { id, body } = newAccount();
    const first = await put(id, body);
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({ created: true, servers: { added: 2, updated: 0, removed: 0 } });
    const again = await put(id, body);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ created: false, servers: { added: 0, updated: 0, removed: 0 } });
    const stored = await db().billingAccount.findUniqueOrThrow({ where: { id }, include: { servers: true } });
    expect(stored).toMatchObject({
      stripeCustomerId: body.stripeCustomerId,
      email: body.email,
      name: 'Owner',
    });
    expect(stored.servers.map((s) => s.vmid).sort()).toEqual(body.servers.map((s) => s.vmid).sort());
  });

  it('updates and drops servers, but keeps one this service suspended', async () => {
    const { id, body } = newAccount();
    await put(id, body);
    await db().server.update({ where: { vmid: body.servers[1]!.vmid }, data: { billingSuspended: true } });
    const response = await put(id, { ...body, servers: [{ ...body.servers[0]!, node: 'pve3' }] });
    expect(response.json()).toMatchObject({
      servers: { added: 0, updated: 1, removed: 0, keptSuspended: [body.servers[1]!.vmid] },
    });
    const unsuspended = { ...body, servers: [] };
    await db().server.update({ where: { vmid: body.servers[1]!.vmid }, data: { billingSuspended: false } });
    expect((await put(id, unsuspended)).json()).toMatchObject({ servers: { removed: 2 } });
  });

  it('answers 400 with field errors for a bad body', async () => {
    const { id, body } = newAccount();
    const response = await put(id, { ...body, stripeCustomerId: 'not-a-customer', servers: [{ vmid: -1 }] });
    expect(response.statusCode).toBe(400);
    const fields = response.json<{ fields: Record<string, string[]> }>().fields;
    expect(Object.keys(fields)).toEqual(
      expect.arrayContaining(['body.stripeCustomerId', 'body.servers.0.vmid']),
    );
    expect(await db().billingAccount.findUnique({ where: { id } })).toBeNull();
  });

  it('answers 409 when the Stripe customer or a server belongs to another account', async () => {
    const a = newAccount();
    const b = newAccount();
    await put(a.id, a.body);
    const sameCustomer = await put(b.id, { ...b.body, stripeCustomerId: a.body.stripeCustomerId });
    expect(sameCustomer.statusCode).toBe(409);
    const sameServer = await put(b.id, { ...b.body, servers: [a.body.servers[0]] });
    expect(sameServer.statusCode).toBe(409);
    expect(await db().billingAccount.findUnique({ where: { id: b.id } })).toBeNull();
  });

  it('answers 401 without a token and 403 with the admin token', async () => {
    const { id, body } = newAccount();
    expect((await put(id, body, {})).statusCode).toBe(401);
    expect((await put(id, body, { authorization: 'Bearer wrong-token-wrong-token-wrong' })).statusCode).toBe(
      401,
    );
    expect((await put(id, body, adminAuth)).statusCode).toBe(403);
  });
});

describe('GET /v1/accounts/:accountId/billing', () => {
  it('reads an account in good standing', async () => {
    const { id, body } = newAccount();
    await put(id, body);
    const response = await app.inject({
      method: 'GET',
      url: `/v1/accounts/${id}/billing`,
      headers: internalAuth,
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      accountId: id,
      state: 'active',
      code: 'BILLING_OK',
      overdueSince: null,
      backupsBlocked: false,
      openInvoices: [],
      nextActionAt: null,
    });
  });

  it('reads an overdue account: open invoice, amount due, next action from the workflow', async () => {
    const { id, body } = newAccount();
    await put(id, body);
    const handle = env().client.workflow.getHandle(workflowIdFor(id));
    terminateAfterTest(handle);
    const failed = simulatedEvent('payment-failed', { customer: body.stripeCustomerId, amount: 4200 });
    await deliver(app, failed);
    await waitForState(handle, 'overdue');
    const response = await app.inject({
      method: 'GET',
      url: `/v1/accounts/${id}/billing`,
      headers: internalAuth,
    });
    const billing = response.json<Record<string, unknown>>();
    expect(billing).toMatchObject({
      state: 'overdue',
      code: 'BILLING_OVERDUE',
      message: expect.stringContaining('overdue') as unknown,
      backupsBlocked: false,
      openInvoices: [{ id: (failed.data.object as { id: string }).id, amountDue: 4200, currency: 'usd' }],
      amountDue: [{ currency: 'usd', amount: 4200 }],
      nextAction: 'final_warning',
      workflow: { status: 'running' },
    });
    // 72 h after the ladder started (the database records the overdue step a moment later).
    const graceMs = Date.parse(billing.nextActionAt as string) - Date.parse(billing.overdueSince as string);
    expect(Math.abs(graceMs - 72 * 3_600_000)).toBeLessThan(10_000);
  });

  it('answers 404 for an unknown account', async () => {
    const response = await app.inject({
      method: 'GET',
      url: '/v1/accounts/acct_nobody/billing',
      headers: internalAuth,
    });
    expect(response.statusCode).toBe(404);
  });
});
