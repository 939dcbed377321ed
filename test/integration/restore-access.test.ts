// restoreAccess, the restore's one activity (the transition to active and both lifts), on the real
// database: what it does for an enforced and an exempt account, and that a retry after a crash
// changes nothing twice.
import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { createActivities, type RestoreAccessInput } from '../../src/activities/index.js';
import { db, eventsOf, recordingDeps, seedAccount } from './support/harness.js';

/** An account the ladder suspended: backups blocked, its servers stopped by the suspension. */
async function suspendedAccount(options: { exempt?: boolean } = {}) {
  const seeded = await seedAccount({ servers: ['running', 'stopped'], ...options });
  await db().billingAccount.update({
    where: { id: seeded.accountId },
    data: { state: 'suspended', backupsBlocked: true, overdueSince: new Date() },
  });
  const [wasRunning, wasStopped] = seeded.vmids;
  await db().server.update({
    where: { vmid: wasRunning! },
    data: { powerState: 'stopped', billingSuspended: true, powerStateBeforeSuspend: 'running' },
  });
  await db().server.update({
    where: { vmid: wasStopped! },
    data: { billingSuspended: true, powerStateBeforeSuspend: 'stopped' },
  });
  return seeded;
}

function restoreInput(accountId: string, policyDryRun = false): RestoreAccessInput {
  const workflowId = `billing-enforcement:${accountId}`;
  const runId = randomUUID();
  const step = '7:active';
  const at = new Date().toISOString();
  return {
    accountId,
    workflowId,
    runId,
    step,
    at,
    backupsKey: `${workflowId}:${runId}:${step}:backups`,
    restart: true,
    transition: {
      accountId,
      workflowId,
      runId,
      step,
      at,
      to: 'active',
      policy: { version: 'p-test', dryRun: policyDryRun },
      restore: { reason: 'paid', actor: null, note: null },
    },
  };
}

/** restoreAccess of a fresh set of activities on the recording adapters, at the given attempt. */
function restoreAccess(activities: ReturnType<typeof createActivities>, attempt = 1) {
  return (input: RestoreAccessInput) =>
    new MockActivityEnvironment({ attempt }).run(
      (i: RestoreAccessInput) => activities.restoreAccess(i),
      input,
    );
}

async function accessOf(accountId: string) {
  const account = await db().billingAccount.findUniqueOrThrow({
    where: { id: accountId },
    include: { servers: { orderBy: { vmid: 'asc' } } },
  });
  return {
    state: account.state,
    backupsBlocked: account.backupsBlocked,
    servers: account.servers.map((s) => ({ powerState: s.powerState, billingSuspended: s.billingSuspended })),
  };
}

const backOnline = {
  state: 'active',
  backupsBlocked: false,
  servers: [
    { powerState: 'running', billingSuspended: false },
    { powerState: 'stopped', billingSuspended: false },
  ],
};

describe('restoreAccess: the state, the backups and the servers in one activity', () => {
  it('an enforced account: active, backups unblocked, the server that was running started; run twice, done once', async () => {
    const deps = recordingDeps();
    const activities = createActivities(deps);
    const { accountId, vmids } = await suspendedAccount();
    const input = restoreInput(accountId);

    const first = await restoreAccess(activities)(input);
    expect(first).toEqual({ dryRun: false, actions: ['backups unblocked', `servers started [${vmids[0]}]`] });
    expect(await accessOf(accountId)).toEqual(backOnline);

    // The worker died before Temporal heard of it: the retry finds everything done.
    const retry = await restoreAccess(activities, 2)(input);
    expect(retry).toEqual({ dryRun: false, actions: ['backups unblocked', 'servers started []'] });
    expect(deps.servers.calls.filter((c) => c.startsWith('start:'))).toEqual([`start:${vmids[0]}`]);
    const transitions = (await eventsOf(accountId)).filter((e) => e.kind === 'transition:active');
    expect(transitions).toHaveLength(1);
    expect(transitions[0]).toMatchObject({ dryRun: false, step: '7:active', actor: 'workflow' });
    expect(transitions[0]!.detail).toMatchObject({ restore: { reason: 'paid' } });
    expect(await db().billingAccount.findUniqueOrThrow({ where: { id: accountId } })).toMatchObject({
      restoreReason: 'paid',
      policyVersion: 'p-test',
      policyDryRun: false,
    });
  });

  it('an exempt account: the transition is a dry run, and the lifts happen all the same', async () => {
    const { accountId } = await suspendedAccount({ exempt: true });
    const result = await restoreAccess(createActivities(recordingDeps()))(restoreInput(accountId));
    expect(result).toMatchObject({
      dryRun: true,
      actions: ['backups unblocked', expect.stringMatching(/^servers started /)],
    });
    expect(await accessOf(accountId)).toEqual(backOnline);
    const [transition] = (await eventsOf(accountId)).filter((e) => e.kind === 'transition:active');
    expect(transition).toMatchObject({ dryRun: true });
  });

  it('a ladder in dry-run: a dry-run transition, and the lifts all the same', async () => {
    const { accountId } = await suspendedAccount();
    const result = await restoreAccess(createActivities(recordingDeps()))(restoreInput(accountId, true));
    expect(result).toMatchObject({
      dryRun: true,
      actions: ['backups unblocked', expect.stringMatching(/^servers started /)],
    });
    expect(await accessOf(accountId)).toEqual(backOnline);
  });
});
