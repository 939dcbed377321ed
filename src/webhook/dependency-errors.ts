// Which failures mean "a dependency is down, try again later" (503 + Retry-After) rather than
// a bug on our side (500). Both make Stripe retry; the distinction is for operators and alerts.
import { ServiceError, isGrpcDeadlineError, isGrpcServiceError } from '@temporalio/client';
import Stripe from 'stripe';

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
]);

function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** The error and its causes, outermost first (at most 8, cycles cut). */
export function chain(error: unknown): unknown[] {
  const seen: unknown[] = [];
  let current: unknown = error;
  while (current && seen.length < 8 && !seen.includes(current)) {
    seen.push(current);
    current = (current as { cause?: unknown }).cause;
  }
  return seen;
}

export type Dependency = 'postgres' | 'temporal' | 'stripe';

export function unavailableDependency(error: unknown): Dependency | null {
  for (const e of chain(error)) {
    if (e instanceof ServiceError || isGrpcServiceError(e) || isGrpcDeadlineError(e)) return 'temporal';
    if (e instanceof Stripe.errors.StripeConnectionError || e instanceof Stripe.errors.StripeAPIError) {
      return 'stripe';
    }
    const name = (e as { name?: unknown }).name;
    const code = codeOf(e);
    // Prisma passes the driver's connection errors through as plain errors with its version.
    const fromPrisma = typeof e === 'object' && e !== null && 'clientVersion' in e;
    const message = e instanceof Error ? e.message : '';
    if (
      (fromPrisma &&
        /connect|terminat|timeout|closed|socket|reach|shutting down|administrator/i.test(message)) ||
      // node-postgres itself (the webhook's statements): a connection lost or never got.
      /^Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
        message,
      ) ||
      (typeof name === 'string' &&
        (name === 'PrismaClientInitializationError' || name === 'DriverAdapterError')) ||
      (code !== undefined &&
        (NETWORK_CODES.has(code) || /^(08|57P|53)/.test(code) || /^P(1|2024|2028)/.test(code)))
    ) {
      return 'postgres';
    }
  }
  return null;
}
