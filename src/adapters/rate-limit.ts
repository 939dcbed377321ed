// Outgoing calls to providers stay within their published rates. One bucket per provider (and
// per Discord webhook) per process: with several workers, set the rates per worker.
import { RateLimitedError } from './ports/notifications.js';

export interface RateLimiter {
  /**
   * Waits for a token. When the wait would exceed `maxWaitMs` no token is taken and a
   * RateLimitedError says how long to come back after: the activity hands that to Temporal as
   * the next retry delay instead of holding a slot (and its start-to-close budget) while queued.
   */
  take(maxWaitMs?: number): Promise<void>;
  /** The provider said 429: nobody in this process sends before `ms` from now. */
  pauseFor(ms: number): void;
}

export interface RateLimiterOptions {
  /** Sustained rate. */
  perSecond: number;
  /** Tokens available at once (default: the rate per second, at least 1). */
  burst?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export const DEFAULT_MAX_QUEUE_WAIT_MS = 20_000;

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Token bucket with reservations: each caller books the moment its token is free, so concurrent
 * callers are spread out in arrival order without a queue to manage.
 */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  if (!(options.perSecond > 0)) throw new Error('rate limiter: perSecond must be > 0');
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? realSleep;
  const capacity = Math.max(1, options.burst ?? Math.floor(options.perSecond));
  const intervalMs = 1000 / options.perSecond;
  let tokens = capacity;
  // Tokens accrue from here on; a pause moves it into the future.
  let updatedAt = now();

  const refill = (at: number) => {
    if (at > updatedAt) {
      tokens = Math.min(capacity, tokens + (at - updatedAt) / intervalMs);
      updatedAt = at;
    }
  };

  return {
    async take(maxWaitMs = DEFAULT_MAX_QUEUE_WAIT_MS) {
      const at = now();
      refill(at);
      // Tokens may go negative: each negative token is a caller already booked further out.
      const wait = Math.max(at, updatedAt) + Math.max(0, 1 - tokens) * intervalMs - at;
      if (wait > maxWaitMs) throw new RateLimitedError('local rate limit: too many calls queued', wait);
      tokens -= 1;
      if (wait > 0) await sleep(wait);
    },
    pauseFor(ms) {
      if (ms <= 0) return;
      const at = now();
      refill(at);
      updatedAt = Math.max(updatedAt, at + ms);
      // After the pause, one call at a time (a burst would likely meet another 429); callers
      // already booked keep their place in the line behind it.
      tokens = Math.min(tokens, 0) + 1;
    },
  };
}

/** `Retry-After` as seconds (Resend, Discord) or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds * 1000));
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
