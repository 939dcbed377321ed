import Stripe from 'stripe';

export { Stripe };

export interface StripeClientOptions {
  secretKey: string;
  /** Another endpoint (stripe-mock, a local stand-in in tests): scheme, host and port are used. */
  apiBaseUrl?: string;
  timeoutMs?: number;
}

/** The Stripe SDK as this service uses it: no telemetry, a short timeout, a few network retries. */
export function createStripeClient(options: StripeClientOptions): Stripe {
  const base = options.apiBaseUrl ? new URL(options.apiBaseUrl) : undefined;
  return new Stripe(options.secretKey, {
    telemetry: false,
    maxNetworkRetries: 2,
    timeout: options.timeoutMs ?? 10_000,
    ...(base
      ? {
          host: base.hostname,
          port: base.port || (base.protocol === 'http:' ? 80 : 443),
          protocol: base.protocol === 'http:' ? 'http' : 'https',
        }
      : {}),
  });
}
