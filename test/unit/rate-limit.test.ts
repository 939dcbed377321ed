import { describe, expect, it } from 'vitest';
import { createRateLimiter, parseRetryAfter } from '../../src/adapters/rate-limit.js';
import { RateLimitedError } from '../../src/adapters/ports/notifications.js';

/** A clock that only moves when someone sleeps on it. */
function fakeClock() {
  let now = 0;
  const slept: number[] = [];
  return {
    now: () => now,
    sleep: (ms: number) => {
      slept.push(ms);
      return Promise.resolve();
    },
    advance: (ms: number) => (now += ms),
    slept,
  };
}

describe('token bucket', () => {
  it('lets a burst through, then spaces calls at the rate', async () => {
    const clock = fakeClock();
    const limiter = createRateLimiter({ perSecond: 2, now: clock.now, sleep: clock.sleep });
    for (let i = 0; i < 5; i++) await limiter.take();
    // Two at once, then the others booked 500 ms apart (from the same instant).
    expect(clock.slept).toEqual([500, 1000, 1500]);
  });

  it('refills with time, up to the burst', async () => {
    const clock = fakeClock();
    const limiter = createRateLimiter({ perSecond: 2, now: clock.now, sleep: clock.sleep });
    await limiter.take();
    await limiter.take();
    clock.advance(10_000);
    await limiter.take();
    await limiter.take();
    await limiter.take();
    expect(clock.slept).toEqual([500]);
  });

  it('a 429 pauses everyone for Retry-After, then lets one through at a time', async () => {
    const clock = fakeClock();
    const limiter = createRateLimiter({ perSecond: 2, now: clock.now, sleep: clock.sleep });
    limiter.pauseFor(3000);
    await limiter.take();
    await limiter.take();
    expect(clock.slept).toEqual([3000, 3500]);
  });

  it('refuses to queue longer than the caller may wait, saying how long', async () => {
    const clock = fakeClock();
    const limiter = createRateLimiter({ perSecond: 1, now: clock.now, sleep: clock.sleep });
    await limiter.take();
    limiter.pauseFor(60_000);
    const error = await limiter.take(20_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBe(60_000);
    // The refused call took no token: the next one is not pushed further out.
    await limiter.take(120_000);
    expect(clock.slept).toEqual([60_000]);
  });

  it('really waits with the real clock', async () => {
    const limiter = createRateLimiter({ perSecond: 20, burst: 1 });
    const started = Date.now();
    await Promise.all([limiter.take(), limiter.take(), limiter.take()]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  });
});

describe('Retry-After', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('1')).toBe(1000);
    expect(parseRetryAfter('0.25')).toBe(250);
    expect(
      parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')),
    ).toBe(30_000);
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});
