// The admin API over HTTP against real workflows on the time-skipping server: listing, account
// detail (database + the workflow's status query + audit), the admin updates, refused deletions.
import { type FastifyInstance } from 'fastify';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { statusQuery, type EnforcementStatus } from '../../src/workflows/definitions.js';
import {
  db,
  eventsOf,
  HOUR,
  recordingDeps,
  seedAccount,
  startLadder,
  startWorker,
  useTimeSkippingEnv,
  waitForState,
} from './support/harness.js';
import { adminAuth, buildTestApp, internalAuth } from './support/http.js';

const who = { actor: 'ops@example.test', reason: 'customer called support' };

describe('admin API', () => {
  const timeSkipping = useTimeSkippingEnv();
  let env: TestWorkflowEnvironment;
  beforeEach(() => {
    env = timeSkipping();
  });

  function appFor(taskQueue: string): FastifyInstance {
    return buildTestApp({ client: env.client, taskQueue }).app;
  }

  const post = (app: FastifyInstance, url: string, payload: object, headers = adminAuth) =>
    app.inject({ method: 'POST', url, headers, payload });

  it('tokens: none or unknown → 401, the internal token → 403', async () => {
    const app = appFor('admin-auth');
    const { accountId } = await seedAccount();
    for (const [method, url] of [
      ['GET', '/admin/v1/accounts'],
      ['GET', `/admin/v1/accounts/${accountId}`],
      ['POST', `/admin/v1/accounts/${accountId}/pause`],
      ['DELETE', `/admin/v1/accounts/${accountId}`],
    ] as const) {
      expect((await app.inject({ method, url })).statusCode, url).toBe(401);
      expect((await app.inject({ method, url, headers: internalAuth })).statusCode, url).toBe(403);
    }
    // Refused by the token check before the handler: not audited as a delete request.
    expect((await eventsOf(accountId)).map((e) => e.kind)).not.toContain('admin_delete_refused');
    await app.close();
  });

  it('lists accounts in enforcement, filtered by state and paginated; 400 for bad filters', async () => {
    const app = appFor('admin-list');
    const retained = await seedAccount();
    const suspended = await seedAccount();
    const active = await seedAccount();
    await db().billingAccount.update({
      where: { id: retained.accountId },
      data: { state: 'retained', overdueSince: new Date() },
    });
    await db().billingAccount.update({
      where: { id: suspended.accountId },
      data: { state: 'suspended', overdueSince: new Date() },
    });
    const all = await app.inject({ url: '/admin/v1/accounts?limit=500', headers: adminAuth });
    expect(all.statusCode).toBe(200);
    const ids = all.json<{ items: { id: string; state: string }[] }>().items.map((i) => i.id);
    expect(ids).toEqual(expect.arrayContaining([retained.accountId, suspended.accountId]));
    expect(ids).not.toContain(active.accountId);

    const onlyRetained = await app.inject({
      url: '/admin/v1/accounts?state=retained&limit=500',
      headers: adminAuth,
    });
    const body = onlyRetained.json<{ items: { id: string; state: string }[]; total: number }>();
    expect(body.items.every((i) => i.state === 'retained')).toBe(true);
    expect(body.items.map((i) => i.id)).toContain(retained.accountId);
    expect(body.total).toBe(body.items.length);

    const page = await app.inject({ url: '/admin/v1/accounts?limit=1', headers: adminAuth });
    const first = page.json<{ items: unknown[]; total: number; nextOffset: number | null; limit: number }>();
    expect(first.items).toHaveLength(1);
    expect(first.nextOffset).toBe(first.total > 1 ? 1 : null);

    for (const query of ['state=gone', 'limit=0', 'limit=abc', 'offset=-1', 'color=red']) {
      const bad = await app.inject({ url: `/admin/v1/accounts?${query}`, headers: adminAuth });
      expect(bad.statusCode, query).toBe(400);
      expect(bad.json()).toMatchObject({ error: 'bad_request', fields: expect.any(Object) as unknown });
    }
    await app.close();
  });

  it('account detail: database state, the workflow status and the audit trail; 404 for an unknown account', async () => {
    const { worker, taskQueue } = await startWorker(env, recordingDeps());
    const app = appFor(taskQueue);
    const { accountId, invoiceIds } = await seedAccount();
    const never = await seedAccount();
    await worker.runUntil(async () => {
      const handle = await startLadder(env, taskQueue, accountId, invoiceIds[0]!);
      await waitForState(handle, 'overdue');
      const response = await app.inject({ url: `/admin/v1/accounts/${accountId}`, headers: adminAuth });
      expect(response.statusCode).toBe(200);
      const body = response.json<{
        account: { id: string; state: string; servers: unknown[]; openInvoices: unknown[] };
        workflow: EnforcementStatus;
        audit: { kind: string }[];
      }>();
      expect(body.account).toMatchObject({ id: accountId, state: 'overdue' });
      expect(body.account.servers).toHaveLength(2);
      expect(body.account.openInvoices).toHaveLength(1);
      expect(body.workflow).toMatchObject({ accountId, state: 'overdue' });
      expect(body.audit.map((e) => e.kind)).toContain('transition:overdue');
    });
    const none = await app.inject({ url: `/admin/v1/accounts/${never.accountId}`, headers: adminAuth });
    expect(none.json()).toMatchObject({ workflow: null, audit: [] });
    expect((await app.inject({ url: '/admin/v1/accounts/acct_nope', headers: adminAuth })).statusCode).toBe(
      404,
    );
    const audit = await app.inject({
      url: `/admin/v1/accounts/${accountId}/audit?limit=2`,
      headers: adminAuth,
    });
    expect(audit.json<{ events: unknown[] }>().events.length).toBeLessThanOrEqual(2);
    await app.close();
  });

  it('pause, extend-grace, resume, force-restore change what the status query returns and are audited', async () => {
    const { worker, taskQueue } = await startWorker(env, recordingDeps());
    const app = appFor(taskQueue);
    const { accountId, invoiceIds } = await seedAccount();
    await worker.runUntil(async () => {
      const handle = await startLadder(env, taskQueue, accountId, invoiceIds[0]!);
      await waitForState(handle, 'overdue');

      const paused = await post(app, `/admin/v1/accounts/${accountId}/pause`, who);
      expect(paused.statusCode).toBe(200);
      expect(paused.json()).toMatchObject({ accountId, update: 'pause', status: { paused: who } });
      expect((await handle.query(statusQuery)).paused).toMatchObject(who);

      const extended = await post(app, `/admin/v1/accounts/${accountId}/extend-grace`, { ...who, hours: 24 });
      expect(extended.statusCode).toBe(200);
      expect((await handle.query(statusQuery)).graceExtendedHours).toBe(24);

      const resumed = await post(app, `/admin/v1/accounts/${accountId}/resume`, who);
      expect(resumed.statusCode).toBe(200);
      const afterResume = await handle.query(statusQuery);
      expect(afterResume.paused).toBeNull();
      expect(afterResume.nextAction).not.toBeNull();

      const restored = await post(app, `/admin/v1/accounts/${accountId}/force-restore`, who);
      expect(restored.statusCode).toBe(200);
      expect((await handle.result()).restoredBy).toBe(who.actor);
    });
    const audit = (await eventsOf(accountId)).filter((e) => e.kind.startsWith('admin_'));
    expect(audit.map((e) => e.kind)).toEqual(
      expect.arrayContaining(['admin_pause', 'admin_extend_grace', 'admin_resume', 'admin_force_restore']),
    );
    expect(audit.find((e) => e.kind === 'admin_pause')).toMatchObject(who);
    // The ladder has ended: a further update finds no running workflow.
    expect((await post(app, `/admin/v1/accounts/${accountId}/pause`, who)).statusCode).toBe(404);
    await app.close();
  });

  it('invalid updates are rejected (400 / 409) and change nothing; no ladder or no account → 404', async () => {
    const { worker, taskQueue } = await startWorker(env, recordingDeps());
    const app = appFor(taskQueue);
    const { accountId, invoiceIds } = await seedAccount();
    const idle = await seedAccount();
    await worker.runUntil(async () => {
      const handle = await startLadder(env, taskQueue, accountId, invoiceIds[0]!);
      await waitForState(handle, 'overdue');
      const before = await handle.query(statusQuery);
      const bad: [string, object, number, string?][] = [
        ['pause', { reason: who.reason }, 400, 'body.actor'],
        ['pause', { actor: who.actor }, 400, 'body.reason'],
        ['pause', { ...who, reason: 'x' }, 400, 'body.reason'],
        ['pause', { ...who, deleteServers: true }, 400],
        ['extend-grace', { ...who, hours: -5 }, 400, 'body.hours'],
        ['extend-grace', who, 400, 'body.hours'],
        ['resume', who, 409], // not paused
        ['release-suspension-hold', who, 409], // nothing held
        ['approve-deletion-review', who, 409], // not due
      ];
      for (const [segment, payload, status, field] of bad) {
        const response = await post(app, `/admin/v1/accounts/${accountId}/${segment}`, payload);
        expect(response.statusCode, `${segment} ${JSON.stringify(payload)}`).toBe(status);
        if (field) expect(Object.keys(response.json<{ fields: object }>().fields)).toContain(field);
        if (status === 409) expect(response.json<{ message: string }>().message).toMatch(/neither|not|no /);
      }
      expect(await handle.query(statusQuery)).toEqual(before);
      await env.sleep(1 * HOUR);
    });
    expect((await eventsOf(accountId)).filter((e) => e.kind.startsWith('admin_'))).toHaveLength(0);
    expect((await post(app, `/admin/v1/accounts/${idle.accountId}/pause`, who)).statusCode).toBe(404);
    expect((await post(app, '/admin/v1/accounts/acct_nope/pause', who)).statusCode).toBe(404);
    await app.close();
  });

  it('requests to delete servers or data are refused with 403 and audited', async () => {
    const app = appFor('admin-delete');
    const { accountId, vmids } = await seedAccount();
    const requests = [
      app.inject({
        method: 'DELETE',
        url: `/admin/v1/accounts/${accountId}`,
        headers: adminAuth,
        payload: who,
      }),
      app.inject({ method: 'DELETE', url: `/admin/v1/servers/${vmids[0]}`, headers: adminAuth }),
      app.inject({
        method: 'DELETE',
        url: `/admin/v1/accounts/${accountId}/servers/${vmids[1]}`,
        headers: adminAuth,
      }),
      app.inject({
        method: 'POST',
        url: `/admin/v1/accounts/${accountId}/delete-data`,
        headers: adminAuth,
        payload: who,
      }),
    ];
    for (const response of await Promise.all(requests)) {
      expect(response.statusCode).toBe(403);
      expect(response.json<{ message: string }>().message).toMatch(/never done by the billing service/);
    }
    const refused = (await eventsOf(accountId)).filter((e) => e.kind === 'admin_delete_refused');
    expect(refused).toHaveLength(4);
    expect(refused.find((e) => e.actor === who.actor)).toMatchObject({ reason: who.reason });
    expect(new Set(refused.map((e) => e.idempotencyKey)).size).toBe(4);
    // Nothing was deleted.
    expect(await db().server.count({ where: { accountId } })).toBe(2);
    // Unknown targets are refused the same way (there is no account to audit against).
    expect(
      (await app.inject({ method: 'DELETE', url: '/admin/v1/servers/2000000003', headers: adminAuth }))
        .statusCode,
    ).toBe(403);
    await app.close();
  });
});
