// The bearer-token guard on its own (no database, no Temporal): only the whole token of the
// route's kind gets through; near misses (a prefix, one character more, one character) are 401.
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireToken, type Tokens } from '../../src/api/auth.js';

const tokens: Tokens = {
  internal: 'internal-token-0123456789abcdef',
  admin: 'admin-token-0123456789abcdef0000',
};

const app = Fastify();
app.get('/internal', { preHandler: requireToken('internal', tokens) }, () => ({ ok: true }));
app.get('/admin', { preHandler: requireToken('admin', tokens) }, () => ({ ok: true }));
beforeAll(() => app.ready());
afterAll(() => app.close());

async function call(url: '/internal' | '/admin', authorization?: string) {
  const response = await app.inject({
    method: 'GET',
    url,
    headers: authorization === undefined ? {} : { authorization },
  });
  return {
    status: response.statusCode,
    body: response.json<{ ok?: boolean; error?: string; message?: string }>(),
    challenge: response.headers['www-authenticate'],
  };
}

describe('requireToken', () => {
  it.each([
    ['/internal', tokens.internal],
    ['/admin', tokens.admin],
  ] as const)('%s admits its own token', async (url, token) => {
    expect(await call(url, `Bearer ${token}`)).toMatchObject({ status: 200, body: { ok: true } });
  });

  it('reads the scheme case-insensitively and tolerates extra spaces', async () => {
    expect((await call('/internal', `bearer   ${tokens.internal}  `)).status).toBe(200);
    expect((await call('/internal', `BEARER ${tokens.internal}`)).status).toBe(200);
  });

  describe.each([
    ['/internal', tokens.internal, tokens.admin],
    ['/admin', tokens.admin, tokens.internal],
  ] as const)('%s: near misses are unknown tokens', (url, token, other) => {
    const nearMisses = {
      'the token without its last character': token.slice(0, -1),
      'half of the token': token.slice(0, token.length / 2),
      'its first character': token.slice(0, 1),
      'the token plus one character': `${token}x`,
      'the token with its last character changed': `${token.slice(0, -1)}${token.endsWith('0') ? '1' : '0'}`,
      'the token twice': `${token}${token}`,
      'a prefix of the other token': other.slice(0, -1),
      'the other token plus one character': `${other}x`,
    };
    it.each(Object.entries(nearMisses))('%s → 401', async (_, presented) => {
      const result = await call(url, `Bearer ${presented}`);
      expect(result).toMatchObject({
        status: 401,
        challenge: 'Bearer',
        body: { error: 'unauthorized', message: 'invalid bearer token' },
      });
    });

    it("the other kind's token → 403", async () => {
      const kind = url === '/internal' ? 'internal' : 'admin';
      expect(await call(url, `Bearer ${other}`)).toMatchObject({
        status: 403,
        body: { error: 'forbidden', message: `this route needs the ${kind} token` },
      });
    });
  });

  it.each([
    ['no Authorization header', undefined],
    ['an empty header', ''],
    ['another scheme', `Basic ${tokens.internal}`],
    ['the token without a scheme', tokens.internal],
    ['a scheme without a token', 'Bearer'],
    ['a scheme and spaces only', 'Bearer    '],
    ['two tokens', `Bearer ${tokens.internal} ${tokens.internal}`],
    ['text before the scheme', `x Bearer ${tokens.internal}`],
  ])('%s → 401 missing bearer token', async (_, header) => {
    expect(await call('/internal', header)).toMatchObject({
      status: 401,
      challenge: 'Bearer',
      body: { error: 'unauthorized', message: 'missing bearer token' },
    });
  });
});
