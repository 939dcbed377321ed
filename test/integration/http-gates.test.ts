// The internal gate API over HTTP: POST /v1/gates/check, GET /v1/servers/:vmid/repair-allowed,
// GET /api/announcements, and the OpenAPI document — on the real database, states set directly.
import { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GateAction, type GateState } from '../../src/gates/index.js';
import { gateDecisions } from '../../src/platform/observability/metrics.js';
import { DAY, db, seedAccount, testPolicy, useTimeSkippingEnv } from './support/harness.js';
import { adminAuth, buildTestApp, internalAuth } from './support/http.js';

async function setState(
  accountId: string,
  state: GateState,
  extra: {
    backupsBlocked?: boolean;
    enforcementExempt?: boolean;
    policyDryRun?: boolean | null;
    enforcedState?: GateState | null;
  } = {},
) {
  const overdueSince = state === 'active' ? null : new Date(Date.now() - 6 * DAY);
  await db().billingAccount.update({
    where: { id: accountId },
    data: {
      state,
      overdueSince,
      backupsBlocked: extra.backupsBlocked ?? ['final_warning', 'suspended', 'retained'].includes(state),
      enforcementExempt: extra.enforcementExempt ?? false,
      retainUntil: state === 'retained' ? new Date(Date.now() + 30 * DAY) : null,
      policyDryRun: extra.policyDryRun ?? null,
      enforcedState: extra.enforcedState ?? null,
    },
  });
}

describe('internal gate API', () => {
  const timeSkipping = useTimeSkippingEnv();
  let app: FastifyInstance;
  let dryRunApp: FastifyInstance;
  beforeAll(async () => {
    const client = timeSkipping().client;
    app = buildTestApp({ client, taskQueue: 'gates-test' }).app;
    dryRunApp = buildTestApp({ client, taskQueue: 'gates-test', policy: testPolicy({ dryRun: true }) }).app;
    await Promise.all([app.ready(), dryRunApp.ready()]);
  });
  afterAll(async () => {
    await app?.close();
    await dryRunApp?.close();
  });

  const check = (payload: unknown, headers: Record<string, string> = internalAuth, on = app) =>
    on.inject({ method: 'POST', url: '/v1/gates/check', headers, payload: payload as object });

  describe('POST /v1/gates/check', () => {
    it('401 without or with an unknown token, 403 with the admin token', async () => {
      const { accountId } = await seedAccount();
      const body = { accountId, action: 'server.start' };
      expect((await check(body, {})).statusCode).toBe(401);
      expect((await check(body, { authorization: 'Bearer not-a-token-at-all-0000000000' })).statusCode).toBe(
        401,
      );
      const forbidden = await check(body, adminAuth);
      expect(forbidden.statusCode).toBe(403);
    });

    it('400 with field errors for bad input', async () => {
      const { accountId, vmids } = await seedAccount();
      const cases: [unknown, string][] = [
        [{ accountId, action: 'server.delete' }, 'body.action'],
        [{ action: 'server.start' }, 'body.accountId'],
        [{ accountId, serverVmid: vmids[0], action: 'server.start' }, 'body.accountId'],
        [{ serverVmid: 'abc', action: 'server.start' }, 'body.serverVmid'],
        [{ serverVmid: -3, action: 'server.start' }, 'body.serverVmid'],
        [{ accountId, action: 'server.start', force: true }, 'body'],
        [{ accountId: '', action: 'server.start' }, 'body.accountId'],
      ];
      for (const [payload, field] of cases) {
        const response = await check(payload);
        expect(response.statusCode, JSON.stringify(payload)).toBe(400);
        const json = response.json<{ error: string; fields: Record<string, string[]> }>();
        expect(json.error).toBe('bad_request');
        expect(Object.keys(json.fields), JSON.stringify(payload)).toContain(field);
      }
    });

    it('404 for an unknown account or server', async () => {
      const byAccount = await check({ accountId: 'acct_does_not_exist', action: 'server.start' });
      expect(byAccount.statusCode).toBe(404);
      expect(byAccount.json()).toMatchObject({ error: 'not_found' });
      expect((await check({ serverVmid: 2_000_000_001, action: 'server.start' })).statusCode).toBe(404);
    });

    it('an active account may do everything', async () => {
      const { accountId } = await seedAccount();
      const response = await check({ accountId, action: 'server.provision' });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({
        allowed: true,
        code: 'BILLING_OK',
        message: 'Allowed.',
        state: 'active',
        accountId,
        dryRun: false,
      });
    });

    it('suspended: start, console, backup create and file write denied; file and backup download allowed', async () => {
      const { accountId, vmids } = await seedAccount();
      await setState(accountId, 'suspended');
      const expectations: [GateAction, boolean][] = [
        ['server.start', false],
        ['server.console', false],
        ['backup.create', false],
        ['file.write', false],
        ['controller.repair', false],
        ['file.download', true],
        ['backup.download', true],
        ['server.stop', true],
      ];
      for (const [action, allowed] of expectations) {
        for (const target of [{ accountId }, { serverVmid: vmids[0] }]) {
          const response = await check({ ...target, action });
          expect(response.statusCode).toBe(200);
          const json = response.json<Record<string, unknown>>();
          expect(json, `${action} ${JSON.stringify(target)}`).toMatchObject({
            allowed,
            code: allowed ? 'BILLING_OK' : 'BILLING_SUSPENDED',
            accountId,
            state: 'suspended',
          });
          expect(json.message).toMatch(/suspended for billing/);
          if ('serverVmid' in target) expect(json.serverVmid).toBe(vmids[0]);
        }
      }
    });

    it('final warning blocks backup changes only; retained answers BILLING_RETAINED; overdue denies provisioning', async () => {
      const a = await seedAccount();
      await setState(a.accountId, 'final_warning');
      expect((await check({ accountId: a.accountId, action: 'backup.prune' })).json()).toMatchObject({
        allowed: false,
        code: 'BILLING_BACKUPS_BLOCKED',
      });
      expect((await check({ accountId: a.accountId, action: 'server.start' })).json()).toMatchObject({
        allowed: true,
      });
      const b = await seedAccount();
      await setState(b.accountId, 'retained');
      expect((await check({ accountId: b.accountId, action: 'file.upload' })).json()).toMatchObject({
        allowed: false,
        code: 'BILLING_RETAINED',
      });
      const c = await seedAccount();
      await setState(c.accountId, 'overdue');
      expect((await check({ accountId: c.accountId, action: 'server.provision' })).json()).toMatchObject({
        allowed: false,
        code: 'BILLING_OVERDUE',
      });
    });

    it('dry-run: allowed, with what it would have been', async () => {
      const { accountId } = await seedAccount();
      await setState(accountId, 'suspended', { backupsBlocked: false });
      const response = await check({ accountId, action: 'server.start' }, internalAuth, dryRunApp);
      expect(response.json()).toMatchObject({
        allowed: true,
        code: 'BILLING_OK',
        dryRun: true,
        relaxedBy: 'dry-run',
        wouldBe: { allowed: false, code: 'BILLING_SUSPENDED' },
      });
    });

    it("the account's own ladder decides the mode: a dry-run ladder stays relaxed after the service restarts in enforce, an enforcing one is not relaxed by a dry-run service", async () => {
      const { accountId: dryLadder } = await seedAccount();
      await setState(dryLadder, 'suspended', { backupsBlocked: false, policyDryRun: true });
      expect((await check({ accountId: dryLadder, action: 'server.start' })).json()).toMatchObject({
        allowed: true,
        relaxedBy: 'dry-run',
        wouldBe: { allowed: false, code: 'BILLING_SUSPENDED' },
      });
      const { accountId: enforcing } = await seedAccount();
      await setState(enforcing, 'suspended', { policyDryRun: false });
      expect(
        (await check({ accountId: enforcing, action: 'server.start' }, internalAuth, dryRunApp)).json(),
      ).toMatchObject({ allowed: false, code: 'BILLING_SUSPENDED', dryRun: false });
    });

    it('a ladder standing past what it enforced for real is answered by the real rung, not relaxed', async () => {
      // Switched from dry-run to enforce at "would suspend": only the real final warning is in force.
      const { accountId, vmids } = await seedAccount({ servers: ['running'] });
      await setState(accountId, 'suspended', { policyDryRun: false, enforcedState: 'final_warning' });
      expect((await check({ serverVmid: vmids[0], action: 'server.start' })).json()).toMatchObject({
        allowed: true,
        state: 'final_warning',
        dryRun: false,
      });
      expect((await check({ accountId, action: 'backup.create' })).json()).toMatchObject({
        allowed: false,
        code: 'BILLING_BACKUPS_BLOCKED',
      });
      // The brake (back to dry-run) keeps what was in force, also under a dry-run service.
      await setState(accountId, 'suspended', { policyDryRun: true, enforcedState: 'final_warning' });
      expect(
        (await check({ accountId, action: 'backup.create' }, internalAuth, dryRunApp)).json(),
      ).toMatchObject({ allowed: false, code: 'BILLING_BACKUPS_BLOCKED', dryRun: false });
    });

    it('an exempt account is treated as dry-run for that account only', async () => {
      const { accountId } = await seedAccount({ exempt: true });
      await setState(accountId, 'suspended', { enforcementExempt: true, backupsBlocked: false });
      expect((await check({ accountId, action: 'server.start' })).json()).toMatchObject({
        allowed: true,
        relaxedBy: 'exempt',
        wouldBe: { allowed: false, code: 'BILLING_SUSPENDED' },
      });
    });

    it('counts decisions in the gateDecisions metric', async () => {
      const { accountId } = await seedAccount();
      await setState(accountId, 'suspended');
      const value = async () =>
        (await gateDecisions.get()).values.find(
          (v) =>
            v.labels.action === 'file.write' &&
            v.labels.code === 'BILLING_SUSPENDED' &&
            v.labels.allowed === 'false',
        )?.value ?? 0;
      const before = await value();
      await check({ accountId, action: 'file.write' });
      expect(await value()).toBe(before + 1);
    });
  });

  describe('GET /v1/servers/:vmid/repair-allowed', () => {
    const repair = (vmid: string | number, headers: Record<string, string> = internalAuth) =>
      app.inject({ method: 'GET', url: `/v1/servers/${vmid}/repair-allowed`, headers });

    it("false for a suspended account's server, true for an active one", async () => {
      const suspended = await seedAccount();
      await setState(suspended.accountId, 'suspended');
      const denied = await repair(suspended.vmids[0]!);
      expect(denied.statusCode).toBe(200);
      expect(denied.json()).toMatchObject({
        allowed: false,
        code: 'BILLING_SUSPENDED',
        action: 'controller.repair',
        serverVmid: suspended.vmids[0],
        accountId: suspended.accountId,
      });
      const active = await seedAccount();
      expect((await repair(active.vmids[1]!)).json()).toMatchObject({ allowed: true, code: 'BILLING_OK' });
    });

    it('400 for a bad vmid, 404 for an unknown one, 401 / 403 for tokens', async () => {
      const bad = await repair('abc');
      expect(bad.statusCode).toBe(400);
      expect(bad.json<{ fields: object }>().fields).toHaveProperty(['params.vmid']);
      expect((await repair(0)).statusCode).toBe(400);
      expect((await repair(2_000_000_002)).statusCode).toBe(404);
      const { vmids } = await seedAccount();
      expect((await repair(vmids[0]!, {})).statusCode).toBe(401);
      expect((await repair(vmids[0]!, adminAuth)).statusCode).toBe(403);
    });
  });

  describe('GET /api/announcements', () => {
    const announcements = (
      accountId: string | undefined,
      headers: Record<string, string> = internalAuth,
      on = app,
    ) =>
      on.inject({
        method: 'GET',
        url: '/api/announcements',
        query: accountId === undefined ? {} : { accountId },
        headers,
      });

    for (const state of ['overdue', 'final_warning', 'suspended', 'retained'] as const) {
      it(`present for a ${state} account: what happened, what still works, amount due, pay link, next date`, async () => {
        const { accountId, invoiceIds } = await seedAccount({
          invoices: [{ amountDue: 1000 }, { amountDue: 1550 }],
        });
        // The first invoice is the oldest; its hosted page is the pay link.
        await db().invoice.update({
          where: { id: invoiceIds[0]! },
          data: { lastEventCreatedAt: new Date(Date.now() - DAY) },
        });
        await setState(accountId, state);
        const response = await announcements(accountId);
        expect(response.statusCode).toBe(200);
        const body = response.json<{
          announcements: Record<string, unknown>[];
          dryRun: boolean;
        }>();
        expect(body.dryRun).toBe(false);
        expect(body.announcements).toHaveLength(1);
        const [a] = body.announcements;
        expect(a).toMatchObject({
          kind: 'billing',
          state,
          amountDue: [
            { currency: 'usd', amountCents: 2550, formatted: expect.stringContaining('25.50') as unknown },
          ],
          payUrl: `https://invoice.stripe.test/${invoiceIds[0]}`,
        });
        expect(a!.stillWorks).toEqual(expect.arrayContaining([expect.stringMatching(/download/i)]));
        expect(a!.nextDate).toMatchObject({
          at: expect.any(String) as unknown,
          what: expect.any(String) as unknown,
        });
        if (state === 'suspended' || state === 'retained') {
          expect(a!.message).toMatch(/suspended for billing/);
          expect(a!.blockedActions).toEqual(expect.arrayContaining(['server.start', 'file.write']));
        }
      });
    }

    it('codes follow the rung', async () => {
      const { accountId } = await seedAccount();
      for (const [state, code] of [
        ['overdue', 'BILLING_OVERDUE'],
        ['final_warning', 'BILLING_BACKUPS_BLOCKED'],
        ['suspended', 'BILLING_SUSPENDED'],
        ['retained', 'BILLING_RETAINED'],
      ] as const) {
        await setState(accountId, state);
        expect((await announcements(accountId)).json()).toMatchObject({ announcements: [{ code }] });
      }
    });

    it('absent for an account in good standing', async () => {
      const { accountId } = await seedAccount();
      const response = await announcements(accountId);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ accountId, announcements: [], dryRun: false });
    });

    it('pays in the Portal when the oldest open invoice has no hosted page', async () => {
      const { accountId, invoiceIds } = await seedAccount();
      await db().invoice.update({ where: { id: invoiceIds[0]! }, data: { hostedInvoiceUrl: null } });
      await setState(accountId, 'overdue');
      const [a] = (await announcements(accountId)).json<{ announcements: { payUrl: string }[] }>()
        .announcements;
      expect(a!.payUrl).toBe('http://localhost:5173/billing');
    });

    it('the real rung is announced while the ladder stands past it; a dry-run ladder announces nothing under an enforcing service', async () => {
      const { accountId } = await seedAccount();
      await setState(accountId, 'suspended', { policyDryRun: false, enforcedState: 'final_warning' });
      const announced = (await announcements(accountId)).json<{
        announcements: { state: string; code: string; blockedActions: string[] }[];
      }>();
      expect(announced.announcements).toMatchObject([
        { state: 'final_warning', code: 'BILLING_BACKUPS_BLOCKED' },
      ]);
      expect(announced.announcements[0]!.blockedActions).not.toContain('server.start');
      const { accountId: dryLadder } = await seedAccount();
      await setState(dryLadder, 'suspended', { policyDryRun: true });
      expect((await announcements(dryLadder)).json()).toMatchObject({ announcements: [], dryRun: true });
    });

    it('dry-run: nothing is announced to the customer; wouldBe says what would have been', async () => {
      const { accountId } = await seedAccount();
      await setState(accountId, 'suspended');
      const body = (await announcements(accountId, internalAuth, dryRunApp)).json<{
        announcements: unknown[];
        wouldBe: { code: string }[];
        dryRun: boolean;
      }>();
      expect(body.announcements).toEqual([]);
      expect(body.dryRun).toBe(true);
      expect(body.wouldBe[0]!.code).toBe('BILLING_SUSPENDED');
    });

    it('400 without accountId, 404 for an unknown one, 401 / 403 for tokens', async () => {
      const missing = await announcements(undefined);
      expect(missing.statusCode).toBe(400);
      expect(missing.json<{ fields: object }>().fields).toHaveProperty(['query.accountId']);
      expect((await announcements('acct_nope')).statusCode).toBe(404);
      const { accountId } = await seedAccount();
      expect((await announcements(accountId, {})).statusCode).toBe(401);
      expect((await announcements(accountId, adminAuth)).statusCode).toBe(403);
    });
  });

  it('GET /openapi.json describes the whole service as OpenAPI 3.1', async () => {
    const response = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(response.statusCode).toBe(200);
    const doc = response.json<{
      openapi: string;
      paths: Record<string, unknown>;
      components: { schemas: object };
    }>();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/v1/gates/check',
        '/v1/servers/{vmid}/repair-allowed',
        '/api/announcements',
        '/admin/v1/accounts',
        '/admin/v1/accounts/{accountId}/pause',
        '/webhooks/stripe',
        '/v1/accounts/{accountId}',
        '/v1/accounts/{accountId}/billing',
        '/healthz',
        '/readyz',
        '/metrics',
      ]),
    );
    expect(doc.components.schemas).toHaveProperty('GateDecision');
    expect(JSON.stringify(doc)).not.toContain('$defs');
  });
});
