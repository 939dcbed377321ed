// Wires the staleness check into the HTTP service process from configuration. It lives there,
// not in the worker, because its job is to notice that the worker is gone or stuck.
import { type Client } from '@temporalio/client';
import { type Config } from '../config.js';
import { type Logger } from '../logger.js';
import { type AlertOps } from '../../notifications/ops-alerts.js';
import { createStalenessCheck, describeTaskQueueHealth, type StalenessThresholds } from './task-queue.js';

export function stalenessThresholds(config: Config): StalenessThresholds {
  return {
    maxPollerAgeSeconds: config.env.STALENESS_MAX_POLLER_AGE_SECONDS,
    maxBacklogAgeSeconds: config.env.STALENESS_MAX_BACKLOG_AGE_SECONDS,
  };
}

/** Starts the periodic check (STALENESS_CHECK_INTERVAL_SECONDS; 0: off). Returns its stop function. */
export function startStalenessCheck(deps: {
  config: Config;
  temporal: Client;
  alertOps: AlertOps;
  logger: Logger;
}): () => Promise<void> {
  const { env } = deps.config;
  if (env.STALENESS_CHECK_INTERVAL_SECONDS === 0) {
    deps.logger.info('task-queue staleness check off (STALENESS_CHECK_INTERVAL_SECONDS=0)');
    return async () => {};
  }
  const check = createStalenessCheck({
    describe: () =>
      deps.temporal.withDeadline(Date.now() + 10_000, () =>
        describeTaskQueueHealth(
          deps.temporal.workflowService,
          env.TEMPORAL_NAMESPACE,
          env.TEMPORAL_TASK_QUEUE,
        ),
      ),
    alertOps: deps.alertOps,
    thresholds: stalenessThresholds(deps.config),
    logger: deps.logger,
  });
  deps.logger.info(
    { everySeconds: env.STALENESS_CHECK_INTERVAL_SECONDS, ...stalenessThresholds(deps.config) },
    'task-queue staleness check on',
  );
  return check.start(env.STALENESS_CHECK_INTERVAL_SECONDS * 1000);
}
