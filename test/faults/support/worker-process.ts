// src/worker.ts's worker with the fault suite's hooks: FAULTS_DISCORD_API points discord.js at a
// stand-in, so the suite can count Discord posts (the production worker has no such setting);
// FAULTS_TRIPWIRE_URL stops each activity at its kill points until the test says go on
// (tripwire.ts); FAULTS_WORKFLOW_BUNDLE, the run's prebuilt bundle, makes a restart quick.
import { createActivities } from '../../../src/activities/index.js';
import { activityDepsFromConfig } from '../../../src/activities/deps.js';
import { createDiscordChatNotifier } from '../../../src/adapters/discord/chat.js';
import { loadConfigOrExit } from '../../../src/platform/config.js';
import { createPrisma } from '../../../src/platform/database.js';
import { createLogger } from '../../../src/platform/logger.js';
import { connectWorker } from '../../../src/platform/temporal/connection.js';
import {
  createBillingWorker,
  createNotificationWorkers,
  runWorkers,
} from '../../../src/platform/temporal/worker-factory.js';
import { activitiesWithTripwire, providersWithTripwire } from './tripwire.js';

const config = loadConfigOrExit();
const { env } = config;
const logger = createLogger(env.LOG_LEVEL, 'worker');
const db = createPrisma(env.DATABASE_URL);
const connection = await connectWorker(env);
const deps = activityDepsFromConfig(config, db, logger);
const chat = process.env.FAULTS_DISCORD_API
  ? createDiscordChatNotifier({
      billing: env.DISCORD_BILLING_WEBHOOK_URL,
      ops: env.DISCORD_OPS_WEBHOOK_URL,
      apiBaseUrl: process.env.FAULTS_DISCORD_API,
      perSecond: env.DISCORD_RATE_PER_SECOND,
    })
  : deps.chat;
const tripwire = process.env.FAULTS_TRIPWIRE_URL;
const activities = tripwire
  ? activitiesWithTripwire(
      createActivities({ ...deps, ...providersWithTripwire({ ...deps, chat }, tripwire) }),
      tripwire,
    )
  : createActivities({ ...deps, chat });
const bundlePath = process.env.FAULTS_WORKFLOW_BUNDLE;
const worker = await createBillingWorker({
  connection,
  namespace: env.TEMPORAL_NAMESPACE,
  taskQueue: env.TEMPORAL_TASK_QUEUE,
  activities,
  ...(bundlePath ? { workflowBundle: { codePath: bundlePath } } : {}),
});
const notificationWorkers = await createNotificationWorkers({
  connection,
  namespace: env.TEMPORAL_NAMESPACE,
  taskQueue: env.TEMPORAL_TASK_QUEUE,
  activities,
  emailPerSecond: env.EMAIL_RATE_PER_SECOND,
  discordPerSecond: env.DISCORD_RATE_PER_SECOND,
});
logger.info({ taskQueue: env.TEMPORAL_TASK_QUEUE }, 'worker polling');
try {
  await runWorkers([worker, ...notificationWorkers]);
} finally {
  await connection.close();
  await db.$disconnect();
}
