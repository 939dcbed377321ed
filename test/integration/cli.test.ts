// The `billing` CLI: each command's core called with test dependencies (real database, real
// workflows on the time-skipping server), and the real process spawned for exit codes and --json.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { runImport } from '../../src/cli/commands/accounts.js';
import { runAudit } from '../../src/cli/commands/audit.js';
import { runList } from '../../src/cli/commands/list.js';
import { runStatus } from '../../src/cli/commands/status.js';
import { runUpdate } from '../../src/cli/commands/updates.js';
import { describeFailure, EXIT, type CliDeps } from '../../src/cli/runtime.js';
import { createLadderClient } from '../../src/ladder/client.js';
import { projectRoot } from '../../src/dev/toolchain.js';
import { statusQuery } from '../../src/workflows/definitions.js';
import {
  db,
  eventsOf,
  recordingDeps,
  seedAccount,
  startLadder,
  startWorker,
  testPolicy,
  useTimeSkippingEnv,
  waitForState,
} from './support/harness.js';

const run = promisify(execFile);
const who = { actor: 'ops@example.test', reason: 'customer called support' };

function sink() {
  let text = '';
  return { write: (chunk: string) => (text += chunk), text: () => text };
}

async function failureOf(promise: Promise<unknown>) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error, 'expected the command to fail').not.toBeNull();
  return describeFailure(error);
}

function tempFile(content: unknown): string {
  const file = path.join(os.tmpdir(), `billing-import-${randomUUID()}.json`);
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

describe('billing CLI', () => {
  const timeSkipping = useTimeSkippingEnv();
  let env: TestWorkflowEnvironment;
  beforeEach(() => {
    env = timeSkipping();
  });

  function depsFor(taskQueue: string) {
    const out = sink();
    const err = sink();
    const ladder = createLadderClient({
      client: env.client,
      taskQueue,
      policy: testPolicy(),
      publishSearchAttributes: false,
    });
    const deps: CliDeps = { db: db(), ladder, policy: testPolicy(), out, err };
    return { deps, out, err };
  }

  it('status, pause, extend, resume, audit: the core functions against a running ladder', async () => {
    const { worker, taskQueue } = await startWorker(env, recordingDeps());
    const { accountId, invoiceIds } = await seedAccount();
    await worker.runUntil(async () => {
      const handle = await startLadder(env, taskQueue, accountId, invoiceIds[0]!);
      await waitForState(handle, 'overdue');

      const status = depsFor(taskQueue);
      await runStatus(status.deps, accountId, { json: true });
      const json = JSON.parse(status.out.text()) as {
        account: { id: string; state: string; email?: string };
        workflow: { state: string };
      };
      expect(json.account).toMatchObject({ id: accountId, state: 'overdue' });
      expect(json.account.email).toBeUndefined();
      expect(json.workflow.state).toBe('overdue');

      const text = depsFor(taskQueue);
      await runStatus(text.deps, accountId, {});
      expect(text.out.text()).toMatch(/state\s+overdue/);
      expect(text.out.text()).toMatch(/ladder\s+running/);
      expect(text.out.text()).not.toMatch(/customer\.example\.test|Test Customer/);

      const paused = depsFor(taskQueue);
      await runUpdate(paused.deps, 'pause', accountId, { ...who });
      expect(paused.out.text()).toMatch(/pause applied/);
      expect((await handle.query(statusQuery)).paused).toMatchObject(who);

      await runUpdate(depsFor(taskQueue).deps, 'extendGrace', accountId, { ...who, hours: 12 });
      expect((await handle.query(statusQuery)).graceExtendedHours).toBe(12);
      const resumed = await runUpdate(depsFor(taskQueue).deps, 'resume', accountId, { ...who, json: true });
      expect(resumed.paused).toBeNull();

      // Rejected by the workflow's validator (not paused any more): exit 4, nothing changes.
      const before = await handle.query(statusQuery);
      expect((await failureOf(runUpdate(depsFor(taskQueue).deps, 'resume', accountId, who))).exitCode).toBe(
        EXIT.rejected,
      );
      // Missing reason or bad hours: a usage error before Temporal is asked.
      const usage = await failureOf(runUpdate(depsFor(taskQueue).deps, 'pause', accountId, { actor: 'me' }));
      expect(usage.exitCode).toBe(EXIT.usage);
      expect(usage.message).toMatch(/--reason/);
      expect(
        (await failureOf(runUpdate(depsFor(taskQueue).deps, 'extendGrace', accountId, { ...who, hours: -1 })))
          .exitCode,
      ).toBe(EXIT.usage);
      expect(await handle.query(statusQuery)).toEqual(before);
    });

    const audit = depsFor('unused');
    await runAudit(audit.deps, accountId, { json: true });
    const kinds = (JSON.parse(audit.out.text()) as { events: { kind: string }[] }).events.map((e) => e.kind);
    expect(kinds).toEqual(expect.arrayContaining(['admin_pause', 'admin_extend_grace', 'admin_resume']));
    expect(kinds.filter((k) => k === 'admin_resume')).toHaveLength(1);
  });

  it('unknown account → exit 3; no running ladder → exit 3', async () => {
    const { deps } = depsFor('unused');
    expect((await failureOf(runStatus(deps, 'acct_nope', {}))).exitCode).toBe(EXIT.notFound);
    expect((await failureOf(runAudit(deps, 'acct_nope', {}))).exitCode).toBe(EXIT.notFound);
    const { accountId } = await seedAccount();
    expect((await failureOf(runUpdate(deps, 'pause', accountId, who))).exitCode).toBe(EXIT.notFound);
  });

  it('list filters by state', async () => {
    const { accountId } = await seedAccount();
    await db().billingAccount.update({
      where: { id: accountId },
      data: { state: 'retained', overdueSince: new Date() },
    });
    const { deps, out } = depsFor('unused');
    await runList(deps, { state: 'retained', limit: 500, json: true });
    const list = JSON.parse(out.text()) as { items: { id: string; state: string }[] };
    expect(list.items.map((i) => i.id)).toContain(accountId);
    expect(list.items.every((i) => i.state === 'retained')).toBe(true);
    const text = depsFor('unused');
    await runList(text.deps, { state: 'retained', limit: 500 });
    expect(text.out.text()).toContain(accountId);
  });

  it('accounts import: upserts idempotently with progress and a summary; refuses an invalid file', async () => {
    const tag = randomUUID().slice(0, 8);
    const vmid = 3_000_000 + Math.floor(Math.random() * 1_000_000) * 3;
    const accounts = [
      {
        id: `imp_${tag}_a`,
        stripeCustomerId: `cus_${tag}a`,
        email: 'a@customer.example.test',
        name: 'A',
        servers: [{ vmid, node: 'pve1', kind: 'qemu', name: 'mc' }],
      },
      {
        id: `imp_${tag}_b`,
        stripeCustomerId: `cus_${tag}b`,
        email: 'b@customer.example.test',
        name: 'B',
        servers: [],
      },
      {
        id: `imp_${tag}_c`,
        stripeCustomerId: `cus_${tag}c`,
        email: 'c@customer.example.test',
        name: 'C',
        servers: [{ vmid: vmid + 1, node: 'pve2', kind: 'lxc' }],
      },
    ];
    const file = tempFile(accounts);
    const first = depsFor('unused');
    const summary = await runImport(first.deps, file, {});
    expect(summary).toMatchObject({ total: 3, created: 3, updated: 0, unchanged: 0, failed: 0 });
    expect(first.err.text()).toMatch(/\[1\/3\] imp_\S+ created/);
    expect(first.out.text()).toMatch(/3 created, 0 updated, 0 unchanged, 0 failed/);
    expect(await db().server.findUnique({ where: { vmid } })).toMatchObject({
      accountId: accounts[0]!.id,
      name: 'mc',
    });

    const again = depsFor('unused');
    await runImport(again.deps, file, { json: true });
    expect(JSON.parse(again.out.text())).toMatchObject({ created: 0, updated: 0, unchanged: 3, failed: 0 });

    accounts[1]!.name = 'B renamed';
    accounts[2]!.servers[0]!.node = 'pve3';
    const changed = await runImport(depsFor('unused').deps, tempFile(accounts), {});
    expect(changed).toMatchObject({ created: 0, updated: 2, unchanged: 1 });
    // Billing state is never set by an import.
    expect(await db().billingAccount.findUnique({ where: { id: accounts[1]!.id } })).toMatchObject({
      state: 'active',
      name: 'B renamed',
    });

    // A server that belongs to another account is not moved: that entry fails, the others apply.
    const conflict = [{ id: `imp_${tag}_d`, servers: [{ vmid, node: 'pve1' }] }, { id: `imp_${tag}_e` }];
    const failing = depsFor('unused');
    const failure = await failureOf(runImport(failing.deps, tempFile(conflict), {}));
    expect(failure.exitCode).toBe(EXIT.failure);
    expect(failing.err.text()).toMatch(/imp_\S+_d failed: server \d+ belongs to account imp_\S+_a/);
    expect(await db().billingAccount.findUnique({ where: { id: `imp_${tag}_e` } })).not.toBeNull();
    expect(await db().billingAccount.findUnique({ where: { id: `imp_${tag}_d` } })).toBeNull();

    // Invalid entries: nothing is imported, exit 65 with the problems listed.
    const invalid = [
      { id: `imp_${tag}_x` },
      { id: '', email: 'not-an-email' },
      { id: 'y', servers: [{ vmid: 'abc' }] },
    ];
    const bad = await failureOf(runImport(depsFor('unused').deps, tempFile(invalid), {}));
    expect(bad.exitCode).toBe(EXIT.dataError);
    expect(bad.message).toMatch(/\[1\.id\]/);
    expect(bad.message).toMatch(/\[1\.email\]/);
    expect(bad.message).toMatch(/\[2\.servers\.0\.vmid\]/);
    const duplicates = [{ id: `imp_${tag}_x` }, { id: `imp_${tag}_x` }];
    const dup = await failureOf(runImport(depsFor('unused').deps, tempFile(duplicates), {}));
    expect(dup.exitCode).toBe(EXIT.dataError);
    expect(dup.message).toMatch(/\[1\.id\] duplicate of entry 0/);
    expect(await db().billingAccount.findUnique({ where: { id: `imp_${tag}_x` } })).toBeNull();
    expect((await failureOf(runImport(depsFor('unused').deps, tempFile('{not json'), {}))).exitCode).toBe(
      EXIT.dataError,
    );
  });

  describe('the real process', () => {
    const cli = (args: string[], extraEnv: Record<string, string | undefined> = {}) =>
      run(process.execPath, [path.join('scripts', 'billing.mjs'), ...args], {
        cwd: projectRoot,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          DATABASE_URL: inject('databaseUrl'),
          TEMPORAL_ADDRESS: env.address,
          LOG_LEVEL: 'silent',
          // A .data/dev.env left by `npm run dev` must not fill in what a test leaves out.
          BILLING_DEV_ENV: 'off',
          ...extraEnv,
        },
      }).then(
        (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );

    it('status --json prints the account and its ladder; exit 0', async () => {
      const { accountId } = await seedAccount();
      await db().billingAccount.update({ where: { id: accountId }, data: { state: 'suspended' } });
      const result = await cli(['status', accountId, '--json']);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const json = JSON.parse(result.stdout) as { account: { id: string; state: string }; workflow: unknown };
      expect(json.account).toMatchObject({ id: accountId, state: 'suspended' });
      expect(json.workflow).toBeNull();
    });

    it('fails with a clear message and a non-zero exit code', async () => {
      const unknown = await cli(['status', 'acct_nope']);
      expect(unknown.code).toBe(EXIT.notFound);
      expect(unknown.stderr).toMatch(/billing: unknown account acct_nope/);

      const { accountId } = await seedAccount();
      const noReason = await cli(['pause', accountId, '--actor', 'me']);
      expect(noReason.code).toBe(EXIT.usage);
      expect(noReason.stderr).toMatch(/--reason/);

      const usage = await cli(['extend', accountId]);
      expect(usage.code).toBe(EXIT.usage);
      expect(usage.stderr).toMatch(/--hours/);

      const config = await cli(['list'], { DATABASE_URL: undefined });
      expect(config.code).toBe(EXIT.config);
      expect(config.stderr).toMatch(/DATABASE_URL/);
    });
  });

  it('audit rows written by admin updates are visible to the CLI and the database alike', async () => {
    const { accountId } = await seedAccount();
    expect(await eventsOf(accountId)).toHaveLength(0);
    const { deps, out } = depsFor('unused');
    await runAudit(deps, accountId, {});
    expect(out.text()).toMatch(/no audit events/);
  });
});
