// Two limits keep one caller from wearing the service down. Per client: requests per minute per
// token (or per address without one), through @fastify/rate-limit; the webhook (Stripe bursts
// on a backlog, and its signature is the guard) and the probes are exempt. On failed
// authentication: an address that keeps presenting wrong tokens or signatures gets 429 for the
// rest of its minute, so guessing is slow.
import { createHash } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import { type FastifyInstance, type FastifyRequest } from 'fastify';

const WINDOW_MS = 60_000;

export interface AuthFailureLimiter {
  /** Seconds until `key` may try again; 0 while it is under the limit. */
  retryAfterSeconds(key: string): number;
  record(key: string): void;
}

/**
 * A fixed one-minute window per address. Bounded: past `maxKeys` addresses the oldest window is
 * forgotten (a flood of addresses costs memory no more than a flood of requests does).
 */
export function createAuthFailureLimiter(options: {
  perMinute: number;
  now?: () => number;
  maxKeys?: number;
}): AuthFailureLimiter {
  const { perMinute, now = Date.now, maxKeys = 10_000 } = options;
  const windows = new Map<string, { count: number; resetAt: number }>();
  return {
    retryAfterSeconds(key) {
      const window = windows.get(key);
      const left = window === undefined ? 0 : window.resetAt - now();
      return window !== undefined && left > 0 && window.count >= perMinute ? Math.ceil(left / 1000) : 0;
    },
    record(key) {
      const at = now();
      let window = windows.get(key);
      if (window === undefined || window.resetAt <= at) {
        windows.delete(key);
        if (windows.size >= maxKeys) windows.delete(windows.keys().next().value as string);
        window = { count: 0, resetAt: at + WINDOW_MS };
        windows.set(key, window);
      }
      window.count += 1;
    },
  };
}

/** A token's client key: its hash (the token itself never sits in memory twice or in a log). */
function clientKey(request: FastifyRequest): string {
  const header = request.headers.authorization;
  return header
    ? `token:${createHash('sha256').update(header).digest('hex').slice(0, 32)}`
    : `address:${request.ip}`;
}

/**
 * Registers the per-client limit (429 with Retry-After, in the service's error body). Routes
 * opt out with `config: { rateLimit: false }`. Register before the routes it guards.
 */
export async function registerClientRateLimit(app: FastifyInstance, perMinute: number) {
  await app.register(rateLimit, {
    max: perMinute,
    timeWindow: WINDOW_MS,
    keyGenerator: clientKey,
    errorResponseBuilder: (_request, context) =>
      Object.assign(
        new Error(`more than ${context.max} requests a minute from this client; retry in ${context.after}`),
        { statusCode: context.statusCode },
      ),
  });
}
