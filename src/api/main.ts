// The HTTP service process. SIGTERM / SIGINT: stop accepting, finish in-flight requests, exit.
import { activityDepsFromConfig } from '../activities/deps.js';
import { createActivities } from '../activities/index.js';
import { loadConfigOrExit } from '../platform/config.js';
import { createPrisma, surviveDatabaseRestarts } from '../platform/database.js';
import { enforceDatabaseRole } from '../platform/database-roles.js';
import { createLogger } from '../platform/logger.js';
import { exitIfUnavailable, waitForDependency, waitForPostgres } from '../platform/dependencies.js';
import { opsAlerter } from '../notifications/ops-alerts.js';
import { startStalenessCheck } from '../platform/observability/staleness-service.js';
import { connectClient } from '../platform/temporal/connection.js';
import { buildPublicServer, buildServer } from './app.js';

const config = loadConfigOrExit();
const logger = createLogger(config.env.LOG_LEVEL, 'http');
const db = createPrisma(config.env.DATABASE_URL, { max: config.env.DATABASE_POOL_MAX });
surviveDatabaseRestarts((message) => logger.warn(message));
// Bounded waits for PostgreSQL and Temporal; one that never comes ends the start with exit 69.
const startup = { timeoutMs: config.env.DEPENDENCY_WAIT_SECONDS * 1000, say: (m: string) => logger.warn(m) };
const temporal = await (async () => {
  const role = await waitForPostgres(config.env.DATABASE_URL, startup);
  // Not a superuser, not the owner (production refuses one): docs/design.md, "Database roles".
  enforceDatabaseRole(config.env, role, logger);
  return waitForDependency('Temporal', config.env.TEMPORAL_ADDRESS, () => connectClient(config.env), startup);
})().catch((error: unknown) => exitIfUnavailable(error, (fields, message) => logger.fatal(fields, message)));
// The staleness check's alerts go through the configured adapters (and their rate limiters).
const activityDeps = activityDepsFromConfig(config, db, logger);
const app = buildServer({ config, db, temporal, logger });
// The webhook's own listener (PUBLIC_PORT), when Stripe must reach this service from the internet.
const publicApp =
  config.env.PUBLIC_PORT === undefined ? undefined : buildPublicServer({ config, db, temporal, logger });
let stopStalenessCheck = async () => {};

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'http service stopping');
  await stopStalenessCheck();
  await Promise.all([app.close(), publicApp?.close()]);
  await temporal.connection.close();
  await db.$disconnect();
  process.exit(0);
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));

await app.listen({ host: config.env.HOST, port: config.env.PORT });
if (publicApp) await publicApp.listen({ host: config.env.PUBLIC_HOST, port: config.env.PUBLIC_PORT! });
stopStalenessCheck = startStalenessCheck({
  config,
  temporal,
  alertOps: opsAlerter(createActivities(activityDeps)),
  logger,
});
