// The Temporal worker process. SIGTERM / SIGINT: stop polling, finish running activities within
// the grace time, then exit (the SDK installs the signal handlers).
import { createActivities } from './activities/index.js';
import { activityDepsFromConfig, describeAdapters } from './activities/deps.js';
import { loadConfigOrExit } from './config/env.js';
import { createPrisma } from './db/client.js';
import { createLogger } from './logger.js';
import { connectWorker } from './temporal/connection.js';
import { createBillingWorker } from './temporal/worker.js';

const config = loadConfigOrExit();
const logger = createLogger(config.env.LOG_LEVEL, 'worker');
const db = createPrisma(config.env.DATABASE_URL);
const connection = await connectWorker(config.env);
const deps = activityDepsFromConfig(config, db, logger);
const worker = await createBillingWorker({
  connection,
  namespace: config.env.TEMPORAL_NAMESPACE,
  taskQueue: config.env.TEMPORAL_TASK_QUEUE,
  activities: createActivities(deps),
});
logger.info(
  {
    taskQueue: config.env.TEMPORAL_TASK_QUEUE,
    mode: config.env.ENFORCEMENT_MODE,
    adapters: describeAdapters(deps),
  },
  'worker polling',
);
try {
  await worker.run();
} finally {
  await connection.close();
  await db.$disconnect();
  logger.info('worker stopped');
}
