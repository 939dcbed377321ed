import { beforeEach, describe, expect, it } from 'vitest';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { statusQuery, type BillingState } from '../../src/workflows/definitions.js';
import {
  DAY,
  HOUR,
  MINUTE,
  recordingDeps,
  seedAccount,
  startLadder,
  startWorker,
  waitForState,
  waitForStatus,
  useTimeSkippingEnv,
} from './support/harness.js';

describe('each rung fires at its boundary and not before', () => {
  const timeSkipping = useTimeSkippingEnv();
  let env: TestWorkflowEnvironment;
  beforeEach(() => {
    env = timeSkipping();
  });

  const boundaries: { rung: BillingState | 'deletion_review'; before: BillingState; at: number }[] = [
    { rung: 'final_warning', before: 'overdue', at: 72 * HOUR },
    { rung: 'suspended', before: 'final_warning', at: 120 * HOUR },
    { rung: 'retained', before: 'suspended', at: 14 * DAY },
    { rung: 'deletion_review', before: 'retained', at: 14 * DAY + 30 * DAY },
  ];

  for (const boundary of boundaries) {
    it(`${boundary.rung}: not 1 minute before, yes 1 minute after`, async () => {
      const { worker, taskQueue } = await startWorker(env, recordingDeps());
      const { accountId, invoiceIds } = await seedAccount();
      await worker.runUntil(async () => {
        const handle = await startLadder(env, taskQueue, accountId, invoiceIds[0]!);
        await waitForState(handle, 'overdue');
        const start = Date.parse((await handle.query(statusQuery)).overdueSince!);
        // Skip to 1 minute before the boundary (measured from when the ladder started).
        await env.sleep(start + boundary.at - MINUTE - (await env.currentTimeMs()));
        await waitForState(handle, boundary.before);
        const before = await handle.query(statusQuery);
        expect(before.state).toBe(boundary.before);
        expect(before.deletionReviewDueAt).toBeNull();
        await env.sleep(2 * MINUTE);
        if (boundary.rung === 'deletion_review') {
          const after = await waitForStatus(handle, (s) => s.deletionReviewDueAt !== null, 'deletion review');
          expect(after.state).toBe('retained');
        } else {
          expect((await waitForState(handle, boundary.rung)).state).toBe(boundary.rung);
        }
      });
    });
  }
});
