// The HTTP service's two limits on their own: the failed-authentication window per address and
// the per-client request limit (429 with Retry-After in the service's error body).
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { createAuthFailureLimiter, registerClientRateLimit } from '../../src/api/rate-limits.js';
import { installErrorHandling } from '../../src/api/error-responses.js';

describe('failed-authentication window', () => {
  function limiterAt(perMinute: number, maxKeys?: number) {
    let now = 1_000_000;
    const limiter = createAuthFailureLimiter({ perMinute, now: () => now, maxKeys });
    return { limiter, advance: (ms: number) => (now += ms) };
  }

  it('admits an address until it reaches the limit, then for the rest of its minute', () => {
    const { limiter, advance } = limiterAt(3);
    limiter.record('a');
    limiter.record('a');
    expect(limiter.retryAfterSeconds('a')).toBe(0);
    limiter.record('a');
    expect(limiter.retryAfterSeconds('a')).toBe(60);
    advance(59_001);
    expect(limiter.retryAfterSeconds('a')).toBe(1);
    advance(999);
    expect(limiter.retryAfterSeconds('a')).toBe(0);
  });

  it('counts each address on its own', () => {
    const { limiter } = limiterAt(2);
    limiter.record('a');
    limiter.record('a');
    limiter.record('b');
    expect(limiter.retryAfterSeconds('a')).toBe(60);
    expect(limiter.retryAfterSeconds('b')).toBe(0);
  });

  it('starts a new window after the old one ends', () => {
    const { limiter, advance } = limiterAt(2);
    limiter.record('a');
    advance(60_000);
    limiter.record('a');
    expect(limiter.retryAfterSeconds('a')).toBe(0);
    limiter.record('a');
    expect(limiter.retryAfterSeconds('a')).toBe(60);
  });

  it('forgets the oldest address past maxKeys (bounded memory)', () => {
    const { limiter } = limiterAt(1, 2);
    limiter.record('a');
    limiter.record('b');
    expect(limiter.retryAfterSeconds('a')).toBe(60);
    limiter.record('c');
    expect(limiter.retryAfterSeconds('a')).toBe(0);
    expect(limiter.retryAfterSeconds('b')).toBe(60);
    expect(limiter.retryAfterSeconds('c')).toBe(60);
  });
});

describe('per-client request limit', () => {
  async function appWithLimit(perMinute: number) {
    const app = Fastify();
    installErrorHandling(app);
    await registerClientRateLimit(app, perMinute);
    app.get('/work', () => ({ ok: true }));
    app.get('/probe', { config: { rateLimit: false } }, () => ({ ok: true }));
    await app.ready();
    return app;
  }

  it('answers 429 with Retry-After and the error body past the limit, per token', async () => {
    const app = await appWithLimit(2);
    const as = (token: string) =>
      app.inject({ method: 'GET', url: '/work', headers: { authorization: `Bearer ${token}` } });
    expect((await as('token-a')).statusCode).toBe(200);
    expect((await as('token-a')).statusCode).toBe(200);
    const limited = await as('token-a');
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.json()).toMatchObject({
      error: 'too_many_requests',
      message: expect.stringMatching(/^more than 2 requests a minute from this client; retry in /) as unknown,
      requestId: limited.headers['x-request-id'],
    });
    // Another client (another token) has its own budget.
    expect((await as('token-b')).statusCode).toBe(200);
    await app.close();
  });

  it('counts callers without a token by address, and exempt routes not at all', async () => {
    const app = await appWithLimit(1);
    expect((await app.inject({ method: 'GET', url: '/work' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/work' })).statusCode).toBe(429);
    for (let i = 0; i < 3; i++)
      expect((await app.inject({ method: 'GET', url: '/probe' })).statusCode).toBe(200);
    await app.close();
  });
});
