import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { createTestWorker, createTimeSkippingEnv, db, recordingDeps } from './support/harness.js';
import { sleepDaysWorkflow } from '../../src/workflows/sleep-days.js';

describe('foundation', () => {
  it('the committed migrations applied to the empty database and every table exists', async () => {
    const applied = await db().$queryRaw<{ migration_name: string; finished_at: Date | null }[]>`
      SELECT migration_name, finished_at FROM _prisma_migrations ORDER BY migration_name`;
    expect(applied.length).toBeGreaterThan(0);
    expect(applied.every((m) => m.finished_at !== null)).toBe(true);
    const tables = await db().$queryRaw<{ table_name: string }[]>`
      SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`;
    expect(tables.map((t) => t.table_name)).toEqual(
      expect.arrayContaining([
        'BillingAccount',
        'BillingEnforcementEvent',
        'Invoice',
        'Notification',
        'Server',
        'StripeEventLog',
      ]),
    );
  });

  it('a workflow on the time-skipping server sleeps 5 simulated days and completes', async () => {
    const env = await createTimeSkippingEnv();
    try {
      const taskQueue = `tq-${randomUUID()}`;
      const worker = await createTestWorker(env, taskQueue, createActivities(recordingDeps()));
      const result = await worker.runUntil(
        env.client.workflow.execute(sleepDaysWorkflow, {
          workflowId: `sleep-${randomUUID()}`,
          taskQueue,
          args: [5],
        }),
      );
      expect(result).toBe('slept 5 days');
    } finally {
      await env.teardown();
    }
  });
});
