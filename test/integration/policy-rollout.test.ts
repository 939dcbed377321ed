// `billing policy plan | apply` and the admin API's /admin/v1/policy routes on the Temporal dev
// server (visibility with the Billing* search attributes, which the time-skipping server lacks):
// ladders started in dry-run, listed, planned, moved to enforce, and a second apply changes nothing.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { runPolicyApply, runPolicyPlan, type PolicyDeps } from '../../src/cli/commands/policy.js';
import { describeFailure, EXIT } from '../../src/cli/runtime.js';
import { listLadders } from '../../src/ladder/policy-rollout.js';
import { type RolloutPlan, type RolloutResult } from '../../src/ladder/policy-rollout.js';
import {
  eventsOf,
  notificationsOf,
  recordingDeps,
  seedAccount,
  startLadder,
  startWorker,
  testPolicy,
  useDevServerEnv,
  waitForStatus,
} from './support/harness.js';
import { adminAuth, buildTestApp } from './support/http.js';

const dry = testPolicy({ version: 'rollout-dry', dryRun: true });
const enforce = testPolicy({ version: 'rollout-enforce', dryRun: false });
const who = { actor: 'ops@example.test', reason: 'launch day' };

function sink() {
  let text = '';
  return { write: (chunk: string) => (text += chunk), text: () => text };
}

describe('moving running ladders onto the policy in force', () => {
  const env = useDevServerEnv();

  it('plan lists what would change, apply moves them with an audit row each, a second apply changes nothing', async () => {
    const taskQueue = `tq-${randomUUID()}`;
    const { worker } = await startWorker(env(), recordingDeps(), taskQueue);
    const seeded = await Promise.all([seedAccount(), seedAccount(), seedAccount()]);
    await worker.runUntil(async () => {
      const handles = await Promise.all(
        seeded.map((a) =>
          startLadder(env(), taskQueue, a.accountId, a.invoiceIds[0]!, dry, {
            publishSearchAttributes: true,
          }),
        ),
      );
      for (const handle of handles) await waitForStatus(handle, (s) => s.state === 'overdue', 'overdue');
      // Visibility is eventually consistent.
      const base = { client: env().client, taskQueue, policy: enforce };
      const deadline = Date.now() + 15_000;
      while ((await listLadders({ ...base, state: 'overdue' })).length < 3 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 250));

      const deps = (): PolicyDeps & { out: ReturnType<typeof sink>; err: ReturnType<typeof sink> } => ({
        ...base,
        out: sink(),
        err: sink(),
      });
      const planDeps = deps();
      const plan = await runPolicyPlan(planDeps, { concurrency: 2 });
      expect(plan.scanned).toBe(3);
      expect(plan.changes.map((c) => c.accountId).sort()).toEqual(seeded.map((a) => a.accountId).sort());
      for (const change of plan.changes) {
        expect(change).toMatchObject({
          state: 'overdue',
          current: false,
          from: { version: 'rollout-dry', dryRun: true, nextRung: { rung: 'final_warning' } },
          to: { version: 'rollout-enforce', dryRun: false, nextRung: { rung: 'overdue' } },
        });
      }
      expect(planDeps.out.text()).toMatch(/3 running, 3 would change \(3 dry-run -> enforce/);
      expect(planDeps.out.text()).toMatch(/dry-run -> enforce\s+rollout-dry -> rollout-enforce/);
      expect(planDeps.err.text()).toMatch(/plan: 3\/3 ladders/);
      // Planning changed nothing.
      expect((await runPolicyPlan(deps(), { json: true })).changes).toHaveLength(3);
      expect((await runPolicyPlan(deps(), { state: 'final_warning' })).scanned).toBe(0);
      const one = await runPolicyPlan(deps(), { account: seeded[0].accountId });
      expect(one.changes.map((c) => c.accountId)).toEqual([seeded[0].accountId]);

      const refused = describeFailure(
        await runPolicyApply(deps(), { actor: 'ops' }).then(
          () => new Error('apply without --reason was accepted'),
          (e: unknown) => e,
        ),
      );
      expect(refused.exitCode).toBe(EXIT.usage);
      expect(refused.message).toMatch(/--reason/);

      const applyDeps = deps();
      const applied = await runPolicyApply(applyDeps, { ...who, concurrency: 2, json: true });
      expect(applied.applied).toHaveLength(3);
      expect(applied.failed).toEqual([]);
      expect(JSON.parse(applyDeps.out.text()) as RolloutResult).toMatchObject({ alreadyCurrent: 0 });
      expect(applyDeps.err.text()).toMatch(/apply: 3\/3 ladders/);
      for (const handle of handles) {
        await waitForStatus(
          handle,
          (s) => s.history.filter((h) => h.kind === 'overdue').length === 2,
          'notice',
        );
      }

      const again = await runPolicyApply(deps(), who);
      expect(again).toMatchObject({ applied: [], alreadyCurrent: 3, failed: [] });

      // The admin API: the same plan, then the same apply, already current.
      const { app } = buildTestApp({ client: env().client, taskQueue, policy: enforce });
      const shown = await app.inject({ url: '/admin/v1/policy', headers: adminAuth });
      expect(shown.json()).toMatchObject({
        version: 'rollout-enforce',
        mode: 'enforce',
        finalWarningAfter: { hours: 72, days: 3 },
      });
      const planned = await app.inject({ url: '/admin/v1/policy/plan?state=overdue', headers: adminAuth });
      expect(planned.statusCode).toBe(200);
      expect(planned.json<RolloutPlan>()).toMatchObject({ scanned: 3, changes: [], alreadyCurrent: 3 });
      const bad = await app.inject({ url: '/admin/v1/policy/plan?state=gone', headers: adminAuth });
      expect(bad.statusCode).toBe(400);
      const noReason = await app.inject({
        method: 'POST',
        url: '/admin/v1/policy/apply',
        headers: adminAuth,
        payload: { actor: 'ops' },
      });
      expect(noReason.statusCode).toBe(400);
      const viaApi = await app.inject({
        method: 'POST',
        url: '/admin/v1/policy/apply',
        headers: adminAuth,
        payload: { ...who, accountId: seeded[1].accountId },
      });
      expect(viaApi.statusCode).toBe(200);
      expect(viaApi.json<RolloutResult>()).toMatchObject({ scanned: 1, applied: [], alreadyCurrent: 1 });
      await app.close();
      for (const handle of handles) await handle.terminate('test finished');
    });
    for (const { accountId } of seeded) {
      expect((await eventsOf(accountId)).filter((e) => e.kind === 'admin_apply_policy')).toHaveLength(1);
      expect(
        (await notificationsOf(accountId)).filter((n) => n.channel === 'email').map((n) => n.template),
      ).toEqual(['payment_failed']);
    }
  });
});
