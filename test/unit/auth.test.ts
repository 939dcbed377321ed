// The bearer-token scopes on their own (no database, no Temporal): each route admits the tokens
// of its scopes only, every token of a scope works (rotation), near misses are unknown tokens,
// the token is checked before the body is read, and repeated failures from one address are 429.
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { authenticate, scopeResolver, SCOPES, type Scope, type ScopeTokens } from '../../src/api/auth.js';
import { createAuthFailureLimiter } from '../../src/api/rate-limits.js';
import { installErrorHandling } from '../../src/api/error-responses.js';

const INTERNAL = 'internal-token-0123456789abcdef';
const ADMIN = 'admin-token-0123456789abcdef0000';
const tokens: ScopeTokens = {
  internal: [INTERNAL, 'internal-token-next-0123456789ab'],
  controller: ['controller-token-0123456789abcd'],
  portal: ['portal-token-0123456789abcdef00', 'portal-token-next-0123456789abcd'],
  admin: [ADMIN],
};

/** Route → the scopes it admits (as the service's routes declare them). */
const ROUTES = {
  '/internal': ['internal'],
  '/repair': ['internal', 'controller'],
  '/portal': ['portal', 'internal'],
  '/admin': ['admin'],
} as const satisfies Record<string, readonly Scope[]>;
type Route = keyof typeof ROUTES;

function buildApp(perMinute: number, scopeTokens: ScopeTokens = tokens) {
  const app = Fastify();
  installErrorHandling(app);
  app.addHook('onRequest', authenticate(scopeTokens, createAuthFailureLimiter({ perMinute })));
  for (const [url, scopes] of Object.entries(ROUTES)) {
    app.get(url, { config: { scopes } }, () => ({ ok: true }));
    app.post(url, { config: { scopes } }, () => ({ ok: true }));
  }
  app.get('/open', () => ({ ok: true }));
  return app;
}

// Each call builds its own app (a limit no test here reaches, so each case is about the token
// alone): code run outside a test would make Stryker's mutants there unkillable.
async function call(url: Route | '/open', authorization?: string, target?: ReturnType<typeof buildApp>) {
  const app = target ?? buildApp(10_000);
  const response = await app.inject({
    method: 'GET',
    url,
    headers: authorization === undefined ? {} : { authorization },
  });
  if (!target) await app.close();
  return {
    status: response.statusCode,
    body: response.json<{ ok?: boolean; error?: string; message?: string }>(),
    challenge: response.headers['www-authenticate'],
    retryAfter: response.headers['retry-after'],
  };
}

describe('scopes', () => {
  const cases = (Object.keys(ROUTES) as Route[]).flatMap((url) =>
    SCOPES.flatMap((scope) => tokens[scope].map((token) => ({ url, scope, token }))),
  );

  it.each(cases)('$url with a $scope token ($token)', async ({ url, scope, token }) => {
    const admitted: readonly Scope[] = ROUTES[url];
    const result = await call(url, `Bearer ${token}`);
    if (admitted.includes(scope)) {
      expect(result).toMatchObject({ status: 200, body: { ok: true } });
    } else {
      expect(result).toMatchObject({
        status: 403,
        body: {
          error: 'forbidden',
          message: `this route needs a ${admitted.join(' or ')} token, not a ${scope} token`,
        },
      });
    }
  });

  it('a route without scopes needs no token', async () => {
    expect(await call('/open')).toMatchObject({ status: 200, body: { ok: true } });
  });

  it('a scope without tokens admits nobody, and its routes still take their other scopes', async () => {
    const noController = buildApp(10_000, { ...tokens, controller: [] });
    await noController.ready();
    expect((await call('/repair', `Bearer ${tokens.controller[0]}`, noController)).status).toBe(401);
    expect((await call('/repair', `Bearer ${tokens.internal[0]}`, noController)).status).toBe(200);
    await noController.close();
  });

  it('reads the scheme case-insensitively and tolerates extra spaces', async () => {
    expect((await call('/internal', `bearer   ${tokens.internal[0]}  `)).status).toBe(200);
    expect((await call('/internal', `BEARER ${tokens.internal[0]}`)).status).toBe(200);
  });
});

describe.each([
  ['/internal', INTERNAL, ADMIN],
  ['/admin', ADMIN, INTERNAL],
] as const)('%s: near misses are unknown tokens', (url, token, other) => {
  const nearMisses = {
    'the token without its last character': token.slice(0, -1),
    'half of the token': token.slice(0, token.length / 2),
    'its first character': token.slice(0, 1),
    'the token plus one character': `${token}x`,
    'the token with its last character changed': `${token.slice(0, -1)}${token.endsWith('0') ? '1' : '0'}`,
    'the token twice': `${token}${token}`,
    'two rotated tokens joined': `${tokens.internal[0]},${tokens.internal[1]}`,
    'a prefix of the other token': other.slice(0, -1),
    'the other token plus one character': `${other}x`,
  };
  it.each(Object.entries(nearMisses))('%s → 401', async (_, presented) => {
    expect(await call(url, `Bearer ${presented}`)).toMatchObject({
      status: 401,
      challenge: 'Bearer',
      body: { error: 'unauthorized', message: 'invalid bearer token' },
    });
  });
});

it.each([
  ['no Authorization header', undefined],
  ['an empty header', ''],
  ['another scheme', `Basic ${tokens.internal[0]}`],
  ['the token without a scheme', tokens.internal[0]],
  ['a scheme without a token', 'Bearer'],
  ['a scheme and spaces only', 'Bearer    '],
  ['two tokens', `Bearer ${tokens.internal[0]} ${tokens.internal[0]}`],
  ['text before the scheme', `x Bearer ${tokens.internal[0]}`],
])('%s → 401 missing bearer token', async (_, header) => {
  expect(await call('/internal', header)).toMatchObject({
    status: 401,
    challenge: 'Bearer',
    body: { error: 'unauthorized', message: 'missing bearer token' },
  });
});

it('checks the token before the body is read: no token and a broken body → 401, not 400', async () => {
  const app = buildApp(10_000);
  const response = await app.inject({
    method: 'POST',
    url: '/internal',
    headers: { 'content-type': 'application/json' },
    payload: '{"not json',
  });
  expect(response.statusCode).toBe(401);
  const withToken = await app.inject({
    method: 'POST',
    url: '/internal',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.internal[0]}` },
    payload: '{"not json',
  });
  expect(withToken.statusCode).toBe(400);
  await app.close();
});

describe('failed authentications', () => {
  it('past the limit an address gets 429 with Retry-After, whatever it presents; 403s do not count', async () => {
    const limited = buildApp(3);
    await limited.ready();
    // Wrong scope is not a failed authentication: the caller proved who it is.
    for (let i = 0; i < 5; i++)
      expect((await call('/admin', `Bearer ${tokens.internal[0]}`, limited)).status).toBe(403);
    expect((await call('/internal', undefined, limited)).status).toBe(401);
    expect((await call('/internal', 'Bearer wrong-token', limited)).status).toBe(401);
    expect((await call('/internal', 'Bearer wrong-token', limited)).status).toBe(401);
    for (const authorization of ['Bearer wrong-token', `Bearer ${tokens.internal[0]}`]) {
      const result = await call('/internal', authorization, limited);
      expect(result).toMatchObject({ status: 429, body: { error: 'too_many_requests' } });
      expect(result.body.message).toMatch(
        /^too many failed authentications from this address; retry after \d+ s$/,
      );
      expect(Number(result.retryAfter)).toBeGreaterThan(0);
      expect(Number(result.retryAfter)).toBeLessThanOrEqual(60);
    }
    // Routes without scopes are not guarded by it.
    expect((await call('/open', undefined, limited)).status).toBe(200);
    await limited.close();
  });
});

describe('scopeResolver', () => {
  it('names the scope of each configured token and nothing else', () => {
    const scopeOf = scopeResolver(tokens);
    for (const scope of SCOPES) for (const token of tokens[scope]) expect(scopeOf(token)).toBe(scope);
    expect(scopeOf('')).toBeUndefined();
    expect(scopeOf('unknown-token-0123456789abcdef')).toBeUndefined();
  });
});
