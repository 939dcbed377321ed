// The decisions a ladder takes in its signal handlers (a dispute freezes it, a payment fails
// again) are in the audit trail, once each, and so is the unfreeze: visible through the admin
// API's audit route and `billing audit`, not only in the workflow's history.
import { randomUUID } from 'node:crypto';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { runAudit } from '../../src/cli/commands/audit.js';
import { type CliDeps } from '../../src/cli/runtime.js';
import { createActivities } from '../../src/activities/index.js';
import { resumeUpdate, statusQuery } from '../../src/workflows/definitions.js';
import {
  createTestWorker,
  db,
  recordHistory,
  recordingDeps,
  seedAccount,
  settle,
  startLadder,
  testLadderClient,
  useTimeSkippingEnv,
  waitForState,
  waitForStatus,
} from './support/harness.js';
import { adminAuth, buildTestApp } from './support/http.js';

const admin = { actor: 'ops@example.test', reason: 'dispute reviewed with the customer' };

/** Waits until the account has `count` audit rows of `kind` (activities run after the signal). */
async function auditRows(accountId: string, kind: string, count: number) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const n = await db().billingEnforcementEvent.count({ where: { accountId, kind } });
    if (n >= count || Date.now() > deadline) return n;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function sink() {
  let text = '';
  return { write: (chunk: string) => (text += chunk), text: () => text };
}

describe('audit trail of the decisions taken on signals', () => {
  const timeSkipping = useTimeSkippingEnv();
  let env: TestWorkflowEnvironment;
  beforeEach(() => {
    env = timeSkipping();
  });

  it('a dispute freeze, its unfreeze and each repeated failure are one audit row each, even when the audit activity is retried', async () => {
    const activities = createActivities(recordingDeps());
    // Every audit write "loses its reply" once after it committed: Temporal retries the
    // activity, which must find its row and write nothing.
    const lostOnce = new Set<string>();
    const retried: string[] = [];
    const taskQueue = `tq-${randomUUID()}`;
    const worker = await createTestWorker(env, taskQueue, {
      ...activities,
      recordAudit: async (input) => {
        const result = await activities.recordAudit(input);
        if (!lostOnce.has(input.step)) {
          lostOnce.add(input.step);
          throw new Error('connection reset after commit (injected)');
        }
        retried.push(input.kind);
        return result;
      },
    });
    const { accountId, invoiceIds } = await seedAccount();
    const invoiceId = invoiceIds[0]!;
    const ladder = testLadderClient(env.client, taskQueue);
    const failed = (eventId: string) =>
      ladder.paymentFailed(accountId, {
        invoiceId,
        eventId,
        at: new Date().toISOString(),
        amountDue: 2500,
        currency: 'usd',
      });
    const dispute = { disputeId: 'dp_audit_1', eventId: 'evt_dispute_audit_1', at: new Date().toISOString() };

    await worker.runUntil(async () => {
      const handle = await startLadder(env, taskQueue, accountId, invoiceId);
      await waitForState(handle, 'overdue');

      // The same Stripe event twice (a redelivery) is one failure.
      await failed('evt_failed_again_1');
      await failed('evt_failed_again_1');
      await waitForStatus(handle, (s) => s.openInvoices[0]?.failures === 2, 'second failure');
      await auditRows(accountId, 'payment_failed_again', 1);

      expect(await ladder.disputeOpened(accountId, dispute)).toBe(true);
      expect(await ladder.disputeOpened(accountId, dispute)).toBe(true);
      await waitForStatus(handle, (s) => s.disputeFrozen !== null, 'frozen');
      await auditRows(accountId, 'dispute_freeze', 1);
      // The details Temporal's tools show say it is frozen, and the policy in hours and days.
      const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      expect(metadata.currentDetails).toContain('FROZEN by dispute dp_audit_1 until an admin resumes');
      expect(metadata.currentDetails).not.toMatch(/next: /);
      expect(metadata.currentDetails).toContain('- final warning: after 72 h (3 d), backups blocked');

      // Frozen or not, a failure is still recorded.
      await failed('evt_failed_again_2');
      await waitForStatus(handle, (s) => s.openInvoices[0]?.failures === 3, 'third failure');
      await auditRows(accountId, 'payment_failed_again', 2);

      const resumed = await handle.executeUpdate(resumeUpdate, { args: [admin] });
      expect(resumed.disputeFrozen).toBeNull();
      await settle(handle, invoiceId);
      expect(await handle.result()).toMatchObject({ outcome: 'restored', restoredBy: 'payment' });
      const history = (await handle.query(statusQuery)).history.map((h) => h.kind);
      expect(history.filter((k) => k === 'payment_failed_again')).toHaveLength(2);
      expect(history.filter((k) => k === 'dispute_freeze')).toHaveLength(1);
      await recordHistory(handle, 'dispute-freeze-repeated-failure-audited');
    });

    // Every audit row above was retried once after it had been written.
    expect(retried.sort()).toEqual(
      ['admin_resume', 'dispute_freeze', 'payment_failed_again', 'payment_failed_again'].sort(),
    );

    const { app } = buildTestApp({ client: env.client, taskQueue });
    const response = await app.inject({
      url: `/admin/v1/accounts/${accountId}/audit?limit=100`,
      headers: adminAuth,
    });
    await app.close();
    expect(response.statusCode).toBe(200);
    const events = response.json<{
      events: { kind: string; actor: string; reason: string | null; detail: Record<string, unknown> }[];
    }>().events;
    const ofKind = (kind: string) => events.filter((e) => e.kind === kind);

    expect(ofKind('dispute_freeze')).toEqual([
      expect.objectContaining({
        actor: 'workflow',
        reason: 'dispute dp_audit_1: frozen until an admin resumes',
        detail: expect.objectContaining({ disputeId: 'dp_audit_1', eventId: dispute.eventId }) as unknown,
      }),
    ]);
    expect(ofKind('admin_resume')).toEqual([
      expect.objectContaining({
        actor: admin.actor,
        reason: admin.reason,
        detail: expect.objectContaining({ dispute: 'dp_audit_1' }) as unknown,
      }),
    ]);
    expect(ofKind('payment_failed_again').map((e) => e.detail)).toEqual([
      expect.objectContaining({ invoiceId, eventId: 'evt_failed_again_1', failures: 2 }),
      expect.objectContaining({ invoiceId, eventId: 'evt_failed_again_2', failures: 3 }),
    ]);
    // The freeze comes between the two failures, as it happened.
    const order = events
      .map((e) => e.kind)
      .filter((k) => ['payment_failed_again', 'dispute_freeze', 'admin_resume'].includes(k));
    expect(order).toEqual(['payment_failed_again', 'dispute_freeze', 'payment_failed_again', 'admin_resume']);
    expect(await db().billingEnforcementEvent.count({ where: { accountId } })).toBe(events.length);

    // `billing audit` prints the same rows, with what each was about.
    const out = sink();
    const cli: Pick<CliDeps, 'db' | 'out'> = { db: db(), out };
    await runAudit(cli, accountId, {});
    const lines = out.text().split('\n');
    expect(lines.filter((l) => /\bdispute_freeze\b/.test(l))).toEqual([
      expect.stringMatching(/workflow: dispute dp_audit_1: frozen until an admin resumes/),
    ]);
    expect(lines.filter((l) => /\badmin_resume\b/.test(l))).toEqual([
      expect.stringMatching(/ops@example\.test: dispute reviewed with the customer .*dispute=dp_audit_1/),
    ]);
    expect(lines.filter((l) => /\bpayment_failed_again\b/.test(l))).toEqual([
      expect.stringMatching(new RegExp(`workflow: ${invoiceId} failed again \\(failure 2\\)`)),
      expect.stringMatching(new RegExp(`workflow: ${invoiceId} failed again \\(failure 3\\)`)),
    ]);
  });
});
