// The listener on PUBLIC_PORT is the one address Stripe must reach: the webhook and /healthz
// answer there, nothing else does (no readiness details, metrics, OpenAPI, tokens).
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/platform/config.js';
import { simulatedEvent } from '../../src/webhook/event-builders.js';
import { adminAuth, buildTestApp, internalAuth } from './support/http.js';
import { deliver, logRow } from './support/stripe.js';

const client = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
const { app } = buildTestApp({ client, taskQueue: `tq-${randomUUID()}`, listener: 'public' });

beforeAll(async () => {
  await app.ready();
});
afterAll(async () => {
  await app.close();
});

describe('the public listener', () => {
  it('serves the Stripe webhook: a signed event is recorded', async () => {
    const event = simulatedEvent('payment-failed', { customer: `cus_public_${randomUUID().slice(0, 8)}` });
    const { status, body } = await deliver(app, event);
    expect(status).toBe(200);
    expect(body).toMatchObject({ received: true, status: 'orphan' });
    expect(await logRow(event.id)).not.toBeNull();
  });

  it('serves /healthz', async () => {
    const response = await app.inject({ method: 'GET', url: '/healthz' });
    expect(response.statusCode).toBe(200);
  });

  it.each([
    ['GET', '/readyz', {}],
    ['GET', '/metrics', {}],
    ['GET', '/openapi.json', {}],
    ['POST', '/v1/gates/check', internalAuth],
    ['GET', '/v1/accounts/acct_1/billing', internalAuth],
    ['GET', '/v1/servers/1001/repair-allowed', internalAuth],
    ['GET', '/api/announcements?accountId=acct_1', internalAuth],
    ['GET', '/admin/v1/accounts', adminAuth],
    ['POST', '/admin/v1/accounts/acct_1/pause', adminAuth],
  ] as const)('does not answer %s %s, even with a valid token', async (method, url, headers) => {
    const response = await app.inject({ method, url, headers });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ error: 'not_found' });
  });
});

describe('PUBLIC_PORT', () => {
  const base = {
    DATABASE_URL: 'postgresql://u:p@localhost/db',
    INTERNAL_API_TOKEN: 'internal-token-0123456789abcdef00',
    ADMIN_TOKEN: 'admin-token-0123456789abcdef000000',
    STRIPE_WEBHOOK_SECRET: 'whsec_test',
  };
  it('is optional, and may not be the internal PORT', () => {
    expect(loadConfig(base).env.PUBLIC_PORT).toBeUndefined();
    expect(loadConfig({ ...base, PUBLIC_PORT: '8080' }).env.PUBLIC_PORT).toBe(8080);
    expect(() => loadConfig({ ...base, PORT: '8080', PUBLIC_PORT: '8080' })).toThrow(
      /PUBLIC_PORT: must differ from PORT/,
    );
  });
});
