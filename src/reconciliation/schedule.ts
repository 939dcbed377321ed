// The reconciliation Schedule: created (or brought up to date) whenever a worker starts, so a
// fresh deployment and a changed interval need no separate step.
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { type Logger } from '../platform/logger.js';
import { RECONCILIATION_SCHEDULE_ID, type reconciliationWorkflow } from '../workflows/reconciliation.js';

export async function ensureReconciliationSchedule(
  client: Client,
  options: { taskQueue: string; intervalMinutes: number; logger: Logger },
): Promise<'created' | 'updated' | 'unchanged'> {
  const every = `${options.intervalMinutes} minutes`;
  const action = {
    type: 'startWorkflow' as const,
    workflowType: 'reconciliationWorkflow' as const satisfies (typeof reconciliationWorkflow)['name'],
    workflowId: `${RECONCILIATION_SCHEDULE_ID}-run`,
    taskQueue: options.taskQueue,
    args: [] as [],
  };
  try {
    await client.schedule.create({
      scheduleId: RECONCILIATION_SCHEDULE_ID,
      spec: { intervals: [{ every }] },
      action,
      // A slow run is not doubled; after an outage, one catch-up run is enough.
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
      memo: { purpose: 'Compare open invoices with Stripe; start missing ladders, settle stale ones' },
    });
    options.logger.info({ scheduleId: RECONCILIATION_SCHEDULE_ID, every }, 'reconciliation schedule created');
    return 'created';
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
  }
  const handle = client.schedule.getHandle(RECONCILIATION_SCHEDULE_ID);
  const description = await handle.describe();
  const current = description.spec.intervals?.[0]?.every;
  const wantedMs = options.intervalMinutes * 60_000;
  const currentMs = typeof current === 'number' ? current : undefined;
  if (currentMs === wantedMs && description.action.taskQueue === options.taskQueue) return 'unchanged';
  await handle.update((previous) => ({
    ...previous,
    spec: { intervals: [{ every }] },
    action: { ...previous.action, taskQueue: options.taskQueue },
  }));
  options.logger.info({ scheduleId: RECONCILIATION_SCHEDULE_ID, every }, 'reconciliation schedule updated');
  return 'updated';
}
