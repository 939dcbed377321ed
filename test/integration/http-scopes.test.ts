// The service's own routes and their token scopes, through the production app builder: each
// route admits exactly its scopes (internal, controller, portal, admin), tokens are checked
// before the body is read, and the two limits answer 429 with Retry-After.
import { type FastifyInstance } from 'fastify';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { type Scope } from '../../src/api/auth.js';
import { seedAccount, useTimeSkippingEnv } from './support/harness.js';
import { adminAuth, buildTestApp, controllerAuth, internalAuth, portalAuth } from './support/http.js';

const AUTH: Record<Scope, { authorization: string }> = {
  internal: internalAuth,
  controller: controllerAuth,
  portal: portalAuth,
  admin: adminAuth,
};

/** The published contract of who may call what (docs/reference.md, "Tokens"). */
function routes(accountId: string, vmid: number) {
  return [
    { method: 'PUT', url: `/v1/accounts/${accountId}`, scopes: ['internal'] },
    { method: 'GET', url: `/v1/accounts/${accountId}/billing`, scopes: ['internal'] },
    { method: 'POST', url: '/v1/gates/check', scopes: ['internal'] },
    { method: 'GET', url: `/v1/servers/${vmid}/repair-allowed`, scopes: ['internal', 'controller'] },
    { method: 'GET', url: `/api/announcements?accountId=${accountId}`, scopes: ['portal', 'internal'] },
    { method: 'GET', url: '/admin/v1/accounts', scopes: ['admin'] },
    { method: 'GET', url: `/admin/v1/accounts/${accountId}`, scopes: ['admin'] },
    { method: 'GET', url: `/admin/v1/accounts/${accountId}/audit`, scopes: ['admin'] },
    { method: 'POST', url: `/admin/v1/accounts/${accountId}/pause`, scopes: ['admin'] },
    { method: 'DELETE', url: `/admin/v1/accounts/${accountId}`, scopes: ['admin'] },
  ] as const satisfies { method: string; url: string; scopes: readonly Scope[] }[];
}

const SCOPE_REFUSAL = /^this route needs a .* token, not a \w+ token$/;

describe('token scopes', () => {
  const timeSkipping = useTimeSkippingEnv();
  let env: TestWorkflowEnvironment;
  beforeEach(() => {
    env = timeSkipping();
  });

  function appFor(taskQueue: string, overrides: Record<string, string> = {}): FastifyInstance {
    return buildTestApp({ client: env.client, taskQueue, env: overrides }).app;
  }

  it('each route admits the tokens of its scopes and refuses the others with 403', async () => {
    const app = appFor('scopes-matrix');
    const { accountId, vmids } = await seedAccount();
    for (const route of routes(accountId, vmids[0]!)) {
      for (const scope of Object.keys(AUTH) as Scope[]) {
        // An empty body: a route that admits the token answers 400 for it, never 401/403.
        const response = await app.inject({
          method: route.method,
          url: route.url,
          headers: AUTH[scope],
          ...(route.method === 'GET' ? {} : { payload: {} }),
        });
        const message = response.json<{ message?: string }>().message ?? '';
        const label = `${route.method} ${route.url} with the ${scope} token → ${response.statusCode} ${message}`;
        if ((route.scopes as readonly Scope[]).includes(scope)) {
          expect(response.statusCode, label).not.toBe(401);
          expect(message, label).not.toMatch(SCOPE_REFUSAL);
        } else {
          expect(response.statusCode, label).toBe(403);
          expect(message, label).toMatch(SCOPE_REFUSAL);
        }
      }
      const anonymous = await app.inject({ method: route.method, url: route.url });
      expect(anonymous.statusCode, `${route.method} ${route.url} without a token`).toBe(401);
    }
    await app.close();
  });

  it('a Portal token cannot re-point an account (the change the scopes exist for)', async () => {
    const app = appFor('scopes-portal');
    const { accountId } = await seedAccount();
    const response = await app.inject({
      method: 'PUT',
      url: `/v1/accounts/${accountId}`,
      headers: portalAuth,
      payload: { stripeCustomerId: 'cus_attacker' },
    });
    expect(response.statusCode).toBe(403);
    const { db } = await import('./support/harness.js');
    const row = await db().billingAccount.findUniqueOrThrow({ where: { id: accountId } });
    expect(row.stripeCustomerId).not.toBe('cus_attacker');
    await app.close();
  });

  it('checks the token before reading the body: no token and ~1 MB of broken JSON → 401', async () => {
    const app = appFor('scopes-body');
    const response = await app.inject({
      method: 'POST',
      url: '/v1/gates/check',
      headers: { 'content-type': 'application/json' },
      payload: `{"accountId": "${'x'.repeat(1000 * 1000)}`,
    });
    expect(response.statusCode).toBe(401);
    await app.close();
  });
});

describe('limits', () => {
  const timeSkipping = useTimeSkippingEnv();
  let env: TestWorkflowEnvironment;
  beforeEach(() => {
    env = timeSkipping();
  });

  it('failed authentications: past the limit the address gets 429 with Retry-After, even with a good token', async () => {
    const { app } = buildTestApp({
      client: env.client,
      taskQueue: 'limits-auth',
      env: { AUTH_FAILURES_PER_MINUTE: '3' },
    });
    const wrong = { authorization: 'Bearer not-a-token-of-this-service-000' };
    for (let i = 0; i < 3; i++)
      expect(
        (await app.inject({ method: 'GET', url: '/admin/v1/accounts', headers: wrong })).statusCode,
      ).toBe(401);
    for (const headers of [wrong, adminAuth]) {
      const response = await app.inject({ method: 'GET', url: '/admin/v1/accounts', headers });
      expect(response.statusCode).toBe(429);
      expect(Number(response.headers['retry-after'])).toBeGreaterThan(0);
      expect(response.json()).toMatchObject({
        error: 'too_many_requests',
        requestId: response.headers['x-request-id'],
      });
    }
    // Probes stay open to the load balancer.
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    await app.close();
  });

  it('forged webhook signatures count as failed authentications', async () => {
    const { app } = buildTestApp({
      client: env.client,
      taskQueue: 'limits-webhook',
      env: { AUTH_FAILURES_PER_MINUTE: '2' },
    });
    const forged = () =>
      app.inject({
        method: 'POST',
        url: '/webhooks/stripe',
        headers: { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=00' },
        payload: '{"id":"evt_forged"}',
      });
    expect((await forged()).statusCode).toBe(400);
    expect((await forged()).statusCode).toBe(400);
    const limited = await forged();
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    await app.close();
  });

  it('per client: past RATE_LIMIT_PER_MINUTE a token gets 429 with Retry-After; other tokens do not', async () => {
    const { app } = buildTestApp({
      client: env.client,
      taskQueue: 'limits-client',
      env: { RATE_LIMIT_PER_MINUTE: '3' },
    });
    const list = (headers: Record<string, string>) =>
      app.inject({ method: 'GET', url: '/admin/v1/accounts', headers });
    for (let i = 0; i < 3; i++) expect((await list(adminAuth)).statusCode).toBe(200);
    const limited = await list(adminAuth);
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.json()).toMatchObject({ error: 'too_many_requests' });
    const other = await app.inject({
      method: 'POST',
      url: '/v1/gates/check',
      headers: internalAuth,
      payload: {},
    });
    expect(other.statusCode).toBe(400);
    for (let i = 0; i < 5; i++)
      expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    await app.close();
  });
});
