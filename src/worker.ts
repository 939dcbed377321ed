// The Temporal worker process. SIGTERM / SIGINT: stop polling, finish running activities within
// the grace time, then exit (the SDK installs the signal handlers).
import { createActivities } from './activities/index.js';
import { activityDepsFromConfig, describeAdapters } from './activities/deps.js';
import { loadConfigOrExit } from './platform/config.js';
import { createPrisma, surviveDatabaseRestarts } from './platform/database.js';
import { enforceDatabaseRole } from './platform/database-roles.js';
import { createLogger } from './platform/logger.js';
import { installTemporalRuntime, serveServiceMetrics } from './platform/observability/worker-metrics.js';
import { exitIfUnavailable, waitForDependency, waitForPostgres } from './platform/dependencies.js';
import { opsAlerter } from './notifications/ops-alerts.js';
import { createReconciliationActivities } from './reconciliation/activities.js';
import { createStripeClient } from './adapters/stripe/client.js';
import { connectClient, connectWorker } from './platform/temporal/connection.js';
import { createLadderClient } from './ladder/client.js';
import { ensureReconciliationSchedule } from './reconciliation/schedule.js';
import {
  createBillingWorker,
  createNotificationWorkers,
  runWorkers,
} from './platform/temporal/worker-factory.js';
import { notificationTaskQueuesFor } from './workflows/definitions.js';

const config = loadConfigOrExit();
const logger = createLogger(config.env.LOG_LEVEL, 'worker');
const db = createPrisma(config.env.DATABASE_URL, { max: config.env.DATABASE_POOL_MAX });
surviveDatabaseRestarts((message) => logger.warn(message));
// Before the first connection: the runtime (and its metrics exporter) is created once per process.
installTemporalRuntime(config.env.WORKER_METRICS_ADDRESS, logger);
const serviceMetrics = config.env.WORKER_SERVICE_METRICS_ADDRESS
  ? await serveServiceMetrics(config.env.WORKER_SERVICE_METRICS_ADDRESS, logger).catch((error: unknown) => {
      // Enforcement matters more than its counters: run on, loudly.
      logger.error(
        { address: config.env.WORKER_SERVICE_METRICS_ADDRESS, err: String(error) },
        'service metrics endpoint could not start; running without it',
      );
      return undefined;
    })
  : undefined;
// Bounded waits: a dependency that starts a little after us is fine; one that never does ends the
// start with a line saying which, where and what to do (exit 69).
const startup = { timeoutMs: config.env.DEPENDENCY_WAIT_SECONDS * 1000, say: (m: string) => logger.warn(m) };
const { connection, client } = await (async () => {
  const role = await waitForPostgres(config.env.DATABASE_URL, startup);
  // Not a superuser, not the owner (production refuses one): docs/design.md, "Database roles".
  enforceDatabaseRole(config.env, role, logger);
  const connection = await waitForDependency(
    'Temporal',
    config.env.TEMPORAL_ADDRESS,
    () => connectWorker(config.env),
    startup,
  );
  const client = await waitForDependency(
    'Temporal',
    config.env.TEMPORAL_ADDRESS,
    () => connectClient(config.env),
    startup,
  );
  return { connection, client };
})().catch((error: unknown) => exitIfUnavailable(error, (fields, message) => logger.fatal(fields, message)));
const deps = activityDepsFromConfig(config, db, logger);
const activities = createActivities(deps);
const { env } = config;
const reconciliation = createReconciliationActivities({
  db,
  ladder: createLadderClient({
    client,
    taskQueue: env.TEMPORAL_TASK_QUEUE,
    policy: config.policy,
    notificationTaskQueues: notificationTaskQueuesFor(env.TEMPORAL_TASK_QUEUE),
  }),
  stripe: env.STRIPE_SECRET_KEY
    ? createStripeClient({ secretKey: env.STRIPE_SECRET_KEY, apiBaseUrl: env.STRIPE_API_BASE_URL })
    : undefined,
  minAmountDueCents: config.policy.minAmountDueCents,
  alertOps: opsAlerter(activities),
  logger,
});
const worker = await createBillingWorker({
  connection,
  namespace: env.TEMPORAL_NAMESPACE,
  taskQueue: env.TEMPORAL_TASK_QUEUE,
  activities: { ...activities, ...reconciliation },
  shutdownGraceTime: env.WORKER_SHUTDOWN_GRACE_SECONDS * 1000,
  maxCachedWorkflows: env.WORKER_MAX_CACHED_WORKFLOWS,
  // An activity that ignores its cancellation must not keep the process past systemd's
  // TimeoutStopSec (deploy/systemd): give up 15 s after the grace time.
  shutdownForceTime: (env.WORKER_SHUTDOWN_GRACE_SECONDS + 15) * 1000,
});
const notificationWorkers = await createNotificationWorkers({
  connection,
  namespace: env.TEMPORAL_NAMESPACE,
  taskQueue: env.TEMPORAL_TASK_QUEUE,
  activities,
  emailPerSecond: env.EMAIL_RATE_PER_SECOND,
  discordPerSecond: env.DISCORD_RATE_PER_SECOND,
  shutdownGraceTime: env.WORKER_SHUTDOWN_GRACE_SECONDS * 1000,
  shutdownForceTime: (env.WORKER_SHUTDOWN_GRACE_SECONDS + 15) * 1000,
});
await ensureReconciliationSchedule(client, {
  taskQueue: env.TEMPORAL_TASK_QUEUE,
  intervalMinutes: env.RECONCILIATION_INTERVAL_MINUTES,
  logger,
});
logger.info(
  {
    taskQueue: config.env.TEMPORAL_TASK_QUEUE,
    // A list, not the object: the logger redacts every key named `email` (customer PII).
    notificationTaskQueues: Object.values(notificationTaskQueuesFor(config.env.TEMPORAL_TASK_QUEUE)),
    mode: config.env.ENFORCEMENT_MODE,
    adapters: describeAdapters(deps),
    metrics: {
      temporal: config.env.WORKER_METRICS_ADDRESS ?? 'off',
      service: serviceMetrics?.address ?? 'off',
    },
    shutdownGraceSeconds: env.WORKER_SHUTDOWN_GRACE_SECONDS,
  },
  'worker polling',
);
try {
  // One SIGTERM stops them all (the SDK shuts every worker of the process down).
  await runWorkers([worker, ...notificationWorkers]);
} finally {
  await connection.close();
  await client.connection.close();
  await db.$disconnect();
  await serviceMetrics?.close();
  logger.info('worker stopped');
}
