// The webhook's ingest as configured: one place for the HTTP service and the CLI's replay, so a
// replayed event meets the same policy, Stripe client and ops alerts as a delivery.
import { type Config } from '../platform/config.js';
import { type PrismaClient } from '../platform/database.js';
import { type Logger } from '../platform/logger.js';
import { type LadderClient } from '../ladder/client.js';
import { activityDepsFromConfig } from '../activities/deps.js';
import { createActivities, type ActivityDeps } from '../activities/index.js';
import { opsAlerter } from '../notifications/ops-alerts.js';
import { createStripeClient } from '../adapters/stripe/client.js';
import { createStripeEventIngest, type StripeEventIngest } from './ingest.js';

export function ingestFromConfig(options: {
  config: Config;
  db: PrismaClient;
  ladder: LadderClient;
  logger: Logger;
  /** Where ops alerts go (Discord or recorded); defaults to the configured adapters. */
  activityDeps?: ActivityDeps;
}): StripeEventIngest {
  const { config, db, logger } = options;
  const { env } = config;
  const notifications = createActivities(options.activityDeps ?? activityDepsFromConfig(config, db, logger));
  return createStripeEventIngest({
    db,
    ladder: options.ladder,
    minAmountDueCents: config.policy.minAmountDueCents,
    stripe: env.STRIPE_SECRET_KEY
      ? createStripeClient({ secretKey: env.STRIPE_SECRET_KEY, apiBaseUrl: env.STRIPE_API_BASE_URL })
      : undefined,
    alertOps: opsAlerter(notifications),
    logger,
  });
}
