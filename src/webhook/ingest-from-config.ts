// The webhook's ingest as configured: one place for the HTTP service and the CLI's replay, so a
// replayed event meets the same policy, Stripe client and ops alerts (posted by Temporal) as a delivery.
import { type Config } from '../platform/config.js';
import { type PrismaClient } from '../platform/database.js';
import { type Logger } from '../platform/logger.js';
import { type LadderClient } from '../ladder/client.js';
import { createStripeClient } from '../adapters/stripe/client.js';
import { createStripeEventIngest, type SweepingStripeEventIngest } from './ingest.js';

export function ingestFromConfig(options: {
  config: Config;
  db: PrismaClient;
  ladder: LadderClient;
  logger: Logger;
}): SweepingStripeEventIngest {
  const { config, db, logger } = options;
  const { env } = config;
  return createStripeEventIngest({
    db,
    ladder: options.ladder,
    minAmountDueCents: config.policy.minAmountDueCents,
    stripe: env.STRIPE_SECRET_KEY
      ? createStripeClient({ secretKey: env.STRIPE_SECRET_KEY, apiBaseUrl: env.STRIPE_API_BASE_URL })
      : undefined,
    logger,
  });
}
