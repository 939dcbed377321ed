// Bad input is a documented 4xx with one error body and changes nothing; fastify's own errors
// use the same body; a 500 carries the request id and nothing of the exception.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrisma } from '../../src/platform/database.js';
import { db, seedAccount } from './support/harness.js';
import { adminAuth, buildTestApp, internalAuth } from './support/http.js';

const client = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
const { app } = buildTestApp({ client, taskQueue: `tq-${randomUUID()}` });

beforeAll(async () => {
  await app.ready();
});
afterAll(async () => {
  await app.close();
});

function expectErrorBody(
  response: { statusCode: number; json: () => unknown; headers: Record<string, unknown> },
  status: number,
  error: string,
) {
  expect(response.statusCode).toBe(status);
  const body = response.json() as Record<string, unknown>;
  expect(body.error).toBe(error);
  expect(typeof body.message).toBe('string');
  expect(body.requestId).toMatch(/^[0-9a-f-]{36}$/);
  // The documented shape and nothing else (fastify's own bodies had statusCode, code, …).
  expect(Object.keys(body).filter((k) => !['error', 'message', 'requestId', 'fields'].includes(k))).toEqual(
    [],
  );
  expect(response.headers['x-request-id']).toBe(body.requestId);
}

const accounts = () => db().billingAccount.count();

/** POST /v1/gates/check with a body (a string is sent as it is) and headers. */
const gateCheck = (payload: string | object, headers: Record<string, string> = internalAuth) =>
  app.inject({ method: 'POST', url: '/v1/gates/check', headers, payload });

/** The id as a JSON body would carry it (invalid UTF-8 cannot be decoded: sent as it is). */
function decoded(id: string): string {
  try {
    return decodeURIComponent(id);
  } catch {
    return id;
  }
}

describe('input that would become a workflow id, a search attribute or a SQL integer', () => {
  it.each([
    ['NUL', 'acct%00x'],
    ['an email', 'someone%40example.com'],
    ['a newline', 'acct%0Ax'],
    ['a right-to-left override', 'acct%E2%80%AEx'],
    ['a path', '..%2F..%2Fetc%2Fpasswd'],
    ['a space', 'acct%20x'],
    ['invalid UTF-8', 'acct%FFx'],
  ])('account id with %s → 400 on every route, nothing written', async (_what, id) => {
    const before = await accounts();
    for (const request of [
      { method: 'GET' as const, url: `/v1/accounts/${id}/billing`, headers: internalAuth },
      { method: 'PUT' as const, url: `/v1/accounts/${id}`, headers: internalAuth, payload: { servers: [] } },
      { method: 'GET' as const, url: `/api/announcements?accountId=${id}`, headers: internalAuth },
      { method: 'GET' as const, url: `/admin/v1/accounts/${id}`, headers: adminAuth },
    ]) {
      const response = await app.inject(request);
      expectErrorBody(response, 400, 'bad_request');
    }
    const gate = await gateCheck({ accountId: decoded(id), action: 'server.start' });
    expectErrorBody(gate, 400, 'bad_request');
    expect(await accounts()).toBe(before);
  });

  it('an account id of 101 characters: 414 in a path (longer than any path parameter), 400 elsewhere', async () => {
    const id = 'a'.repeat(101);
    for (const url of [`/v1/accounts/${id}/billing`, `/admin/v1/accounts/${id}`]) {
      const response = await app.inject({
        method: 'GET',
        url,
        headers: url.startsWith('/admin') ? adminAuth : internalAuth,
      });
      expectErrorBody(response, 414, 'uri_too_long');
    }
    expectErrorBody(
      await app.inject({ method: 'GET', url: `/api/announcements?accountId=${id}`, headers: internalAuth }),
      400,
      'bad_request',
    );
    expectErrorBody(await gateCheck({ accountId: id, action: 'server.start' }), 400, 'bad_request');
  });

  it.each(['0x3E9', '%201001', '1e3', '+1001', '0', '-5', '99999999999', '2147483648'])(
    'vmid %s in a path → 400',
    async (vmid) => {
      const response = await app.inject({
        method: 'GET',
        url: `/v1/servers/${vmid}/repair-allowed`,
        headers: internalAuth,
      });
      expectErrorBody(response, 400, 'bad_request');
    },
  );

  it.each([99_999_999_999, 0, -1, 1.5, 2_147_483_648])(
    'serverVmid %s in a gate check → 400',
    async (serverVmid) => {
      const response = await gateCheck({ serverVmid, action: 'server.start' });
      expectErrorBody(response, 400, 'bad_request');
    },
  );

  it('the largest vmid is looked up (404 unknown), not refused', async () => {
    const response = await app.inject({
      method: 'GET',
      url: '/v1/servers/2147483647/repair-allowed',
      headers: internalAuth,
    });
    expectErrorBody(response, 404, 'not_found');
  });
});

describe("fastify's own errors share the body", () => {
  it('unknown path → 404', async () => {
    expectErrorBody(await app.inject({ method: 'GET', url: '/nope' }), 404, 'not_found');
  });

  it('a known path with another method → 405 with Allow', async () => {
    const { accountId } = await seedAccount();
    const response = await app.inject({
      method: 'DELETE',
      url: `/v1/accounts/${accountId}/billing`,
      headers: internalAuth,
    });
    expectErrorBody(response, 405, 'method_not_allowed');
    expect(response.headers.allow).toMatch(/GET/);
    const webhook = await app.inject({ method: 'GET', url: '/webhooks/stripe' });
    expectErrorBody(webhook, 405, 'method_not_allowed');
    expect(webhook.headers.allow).toBe('POST');
  });

  it('invalid JSON → 400, unsupported media type → 415, too large → 413', async () => {
    const headers = { ...internalAuth, 'content-type': 'application/json' };
    expectErrorBody(await gateCheck('{"accountId": ', headers), 400, 'bad_request');
    expectErrorBody(
      await gateCheck('hello', { ...internalAuth, 'content-type': 'text/plain' }),
      415,
      'unsupported_media_type',
    );
    expectErrorBody(await gateCheck(`"${'x'.repeat(1_100_000)}"`, headers), 413, 'payload_too_large');
  });

  it("the routes' own errors carry the request id too (401, 400 with fields)", async () => {
    expectErrorBody(
      await app.inject({ method: 'GET', url: '/v1/accounts/acct_1/billing' }),
      401,
      'unauthorized',
    );
    const bad = await gateCheck({});
    expectErrorBody(bad, 400, 'bad_request');
  });
});

describe('a 500', () => {
  it('carries the request id and no database message', async () => {
    // A database that is not there: the Prisma error names host and port; the answer must not.
    const broken = createPrisma('postgresql://billing:s3cret@127.0.0.1:9/billing', { max: 1 });
    const { app: failing } = buildTestApp({ client, taskQueue: `tq-${randomUUID()}`, db: broken });
    try {
      const response = await failing.inject({
        method: 'GET',
        url: '/v1/accounts/acct_1/billing',
        headers: internalAuth,
      });
      expect(response.statusCode).toBeGreaterThanOrEqual(500);
      expectErrorBody(
        response,
        response.statusCode,
        response.statusCode === 503 ? 'unavailable' : 'internal',
      );
      expect(response.body).not.toMatch(/127\.0\.0\.1|s3cret|prisma|postgres|ECONNREFUSED|at .*\.ts/i);
    } finally {
      await failing.close();
      await broken.$disconnect();
    }
  });
});
