// The HTTP service process. SIGTERM / SIGINT: stop accepting, finish in-flight requests, exit.
import { activityDepsFromConfig } from '../activities/deps.js';
import { createActivities } from '../activities/index.js';
import { loadConfigOrExit } from '../platform/config.js';
import { createPrisma, surviveDatabaseRestarts } from '../platform/database.js';
import { createLogger } from '../platform/logger.js';
import { opsAlerter } from '../notifications/ops-alerts.js';
import { startStalenessCheck } from '../platform/observability/staleness-service.js';
import { connectClient } from '../platform/temporal/connection.js';
import { buildServer } from './app.js';

const config = loadConfigOrExit();
const logger = createLogger(config.env.LOG_LEVEL, 'http');
const db = createPrisma(config.env.DATABASE_URL, { max: config.env.DATABASE_POOL_MAX });
surviveDatabaseRestarts((message) => logger.warn(message));
const temporal = await connectClient(config.env);
// One set of adapters (and rate limiters) for the routes and the staleness check.
const activityDeps = activityDepsFromConfig(config, db, logger);
const app = buildServer({ config, db, temporal, logger, activityDeps });
let stopStalenessCheck = async () => {};

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'http service stopping');
  await stopStalenessCheck();
  await app.close();
  await temporal.connection.close();
  await db.$disconnect();
  process.exit(0);
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));

await app.listen({ host: config.env.HOST, port: config.env.PORT });
stopStalenessCheck = startStalenessCheck({
  config,
  temporal,
  alertOps: opsAlerter(createActivities(activityDeps)),
  logger,
});
