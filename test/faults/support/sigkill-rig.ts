// What the SIGKILL tests share: ladders with a seconds-long policy on the Temporal dev server, a
// worker child process (restarted after each kill) reaching PostgreSQL through a proxy that can
// freeze the link, and Resend, Discord and Proxmox stand-ins that count what reached them.
import { randomUUID } from 'node:crypto';
import { type WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { expect, inject } from 'vitest';
import { createPrisma, type PrismaClient } from '../../../src/platform/database.js';
import { temporalCliExecutable } from '../../../src/dev/toolchain.js';
import { type billingEnforcementWorkflow } from '../../../src/workflows/billing-enforcement.js';
import {
  invoiceSettledSignal,
  notificationTaskQueuesFor,
  SEARCH_ATTRIBUTES,
  type EnforcementPolicy,
} from '../../../src/workflows/definitions.js';
import { startLadder } from '../../integration/support/harness.js';
import { startDiscordStandin, type DiscordStandin } from '../../support/standins/discord.js';
import { startProxmoxStandin, type ProxmoxStandin } from '../../support/standins/proxmox.js';
import { startResendStandin, type ResendStandin } from '../../support/standins/resend.js';
import { startHoldProxy, type HoldProxy } from './hold-proxy.js';
import { sleep, startWorkerProcess, workerEnv, type Child } from './processes.js';
import { seedAccountWithOpenInvoice } from './seed.js';

const SECOND = 1000;
export const BILLING_WEBHOOK = '111111111111111111';
export const OPS_WEBHOOK = '222222222222222222';

/** Every rung within a minute: final warning at 10 s, suspension at 20 s, retained at 30 s. */
export const sigkillPolicy: EnforcementPolicy = {
  version: 'faults-sigkill',
  finalWarningAfterMs: 10 * SECOND,
  suspendAfterMs: 20 * SECOND,
  retainAfterMs: 30 * SECOND,
  retentionMs: 10 * SECOND,
  restartServersOnRestore: true,
  dryRun: false,
  minAmountDueCents: 100,
  suspensionBreaker: { threshold: 1000, windowMs: 3_600_000 },
  shutdownTimeoutMs: 2 * SECOND,
};

/** The five customer emails of a ladder that is paid once its deletion review is due. */
export const LADDER_EMAILS = ['payment_failed', 'final_warning', 'suspended', 'retained', 'restored'];

export interface Ladder {
  accountId: string;
  invoiceId: string;
  vmid: number;
  handle: WorkflowHandle<typeof billingEnforcementWorkflow>;
}

export interface SigkillRig {
  env: TestWorkflowEnvironment;
  db: PrismaClient;
  proxy: HoldProxy;
  resend: ResendStandin;
  discord: DiscordStandin;
  proxmox: ProxmoxStandin;
  taskQueue: string;
  /** The worker running now (replaced by `restartWorker`). */
  worker(): Child | undefined;
  /** Starts the first worker, or kills the running one with SIGKILL and starts the next. */
  restartWorker(): Promise<void>;
  /** `count` overdue accounts, each with a running server, their ladders started `staggerMs` apart. */
  startLadders(count: number, staggerMs: number): Promise<Ladder[]>;
  /** Pays the invoice of every ladder whose deletion review is due, once: the restore rung runs. */
  settleDue(ladders: Ladder[]): Promise<void>;
  /** Until no ladder runs (paying the due ones on the way) or `timeoutMs` passes. */
  finish(ladders: Ladder[], timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export async function startSigkillRig(
  name: string,
  workerExtraEnv: Record<string, string> = {},
): Promise<SigkillRig> {
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // installed by an earlier file in this process
  }
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: temporalCliExecutable(), searchAttributes: SEARCH_ATTRIBUTES },
  });
  const db = createPrisma(inject('databaseUrl'), { max: 4 });
  const url = new URL(inject('databaseUrl'));
  const proxy = await startHoldProxy({ host: url.hostname, port: Number(url.port) });
  const resend = await startResendStandin();
  const discord = await startDiscordStandin();
  const proxmox = await startProxmoxStandin();
  const taskQueue = `${name}-${randomUUID().slice(0, 8)}`;
  const viaProxy = new URL(inject('databaseUrl'));
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  const childEnv = workerEnv({
    databaseUrl: viaProxy.toString(),
    temporalAddress: env.address,
    taskQueue,
    extra: {
      RESEND_API_KEY: resend.apiKey,
      RESEND_BASE_URL: resend.url,
      EMAIL_RATE_PER_SECOND: '100',
      DISCORD_BILLING_WEBHOOK_URL: discord.webhookUrl(BILLING_WEBHOOK),
      DISCORD_OPS_WEBHOOK_URL: discord.webhookUrl(OPS_WEBHOOK),
      DISCORD_RATE_PER_SECOND: '100',
      FAULTS_DISCORD_API: discord.api,
      FAULTS_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
      SERVER_CONTROL: 'proxmox',
      PROXMOX_API_URL: proxmox.url,
      PROXMOX_TOKEN_ID: proxmox.tokenId,
      PROXMOX_TOKEN_SECRET: proxmox.tokenSecret,
      ...workerExtraEnv,
    },
  });
  let worker: Child | undefined;
  const settled = new Set<string>();

  const rig: SigkillRig = {
    env,
    db,
    proxy,
    resend,
    discord,
    proxmox,
    taskQueue,
    worker: () => worker,
    async restartWorker() {
      await worker?.kill();
      worker = await startWorkerProcess(childEnv, 'test/faults/support/worker-process.ts');
    },
    async startLadders(count, staggerMs) {
      const run = randomUUID().slice(0, 6);
      const ladders: Ladder[] = [];
      for (let i = 0; i < count; i++) {
        const accountId = `${name}_${run}_${i}`;
        const vmid = 700_000 + Math.floor(Math.random() * 100_000) * 10 + i;
        await seedAccountWithOpenInvoice(db, accountId);
        await db.server.create({
          data: { accountId, vmid, node: 'pve1', kind: 'qemu', powerState: 'running' },
        });
        proxmox.addGuest('pve1', 'qemu', vmid, { status: 'running', shutdownMs: 200 });
        const invoiceId = `in_${accountId}`;
        // As the webhook starts them: notifications on the rate-limited queues.
        const handle = await startLadder(env, taskQueue, accountId, invoiceId, sigkillPolicy, {
          publishSearchAttributes: true,
          notificationTaskQueues: notificationTaskQueuesFor(taskQueue),
        });
        ladders.push({ accountId, invoiceId, vmid, handle });
        await sleep(staggerMs);
      }
      return ladders;
    },
    async settleDue(ladders) {
      const due = await db.billingEnforcementEvent.findMany({
        where: { accountId: { in: ladders.map((l) => l.accountId) }, kind: 'deletion_review_due' },
        select: { accountId: true },
      });
      for (const { accountId } of due) {
        if (settled.has(accountId)) continue;
        settled.add(accountId);
        const ladder = ladders.find((l) => l.accountId === accountId)!;
        await ladder.handle.signal(invoiceSettledSignal, {
          invoiceId: ladder.invoiceId,
          how: 'paid',
          eventId: `evt_paid_${accountId}`,
          at: new Date().toISOString(),
        });
      }
    },
    async finish(ladders, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while ((await running(ladders)) > 0 && Date.now() < deadline) {
        await rig.settleDue(ladders);
        await sleep(2000);
      }
    },
    async close() {
      await worker?.kill();
      await proxy.close();
      await Promise.all([resend.close(), discord.close(), proxmox.close()]);
      await db.$disconnect();
      await env.teardown();
    },
  };
  return rig;
}

export async function running(ladders: Ladder[]): Promise<number> {
  const states = await Promise.all(ladders.map((l) => l.handle.describe()));
  return states.filter((d) => d.status.name === 'RUNNING').length;
}

/** What reached the providers, against what each ladder should have sent once. */
export async function providerTally(rig: SigkillRig, ladders: Ladder[]) {
  const accountIds = ladders.map((l) => l.accountId);
  const results = await Promise.all(ladders.map((l) => l.handle.result().catch((e: unknown) => String(e))));
  const restored = results.filter((r) => typeof r === 'object' && r.outcome === 'restored').length;

  const emails = await rig.db.notification.findMany({
    where: { accountId: { in: accountIds }, channel: 'email' },
  });
  const deliveredByKey = new Map<string, number>();
  for (const d of rig.resend.delivered)
    deliveredByKey.set(d.idempotencyKey ?? '?', (deliveredByKey.get(d.idempotencyKey ?? '?') ?? 0) + 1);
  const keyOf = new Map(emails.map((e) => [`${e.accountId}/${e.template}`, e.idempotencyKey]));
  let emailsLost = 0;
  let emailsDuplicated = 0;
  for (const accountId of accountIds) {
    for (const template of LADDER_EMAILS) {
      const n = deliveredByKey.get(keyOf.get(`${accountId}/${template}`) ?? '-') ?? 0;
      if (n === 0) emailsLost++;
      if (n > 1) emailsDuplicated += n - 1;
    }
  }

  // One billing post per ledger row; a row left unconfirmed by a kill may lack its post.
  const postsByKey = new Map<string, number>();
  // Billing posts go out in digests: every embed of every message is one post.
  for (const p of rig.discord.posted) {
    if (p.webhookId !== BILLING_WEBHOOK) continue;
    for (const embed of p.body.embeds ?? []) {
      const account = embed.fields?.find((f) => f.name === 'Account')?.value ?? '-';
      const key = `${account}/${embed.title ?? ''}`;
      postsByKey.set(key, (postsByKey.get(key) ?? 0) + 1);
    }
  }
  const billingRows = await rig.db.notification.findMany({
    where: { accountId: { in: accountIds }, channel: 'discord_billing' },
  });
  let postsLost = 0;
  let postsUnconfirmed = 0;
  for (const row of billingRows) {
    const n = postsByKey.get(`${row.accountId}/${row.template}`) ?? 0;
    if (row.status === 'unconfirmed') postsUnconfirmed++;
    else if (n === 0) postsLost++;
  }
  const postsDuplicated = [...postsByKey.values()].reduce((n, c) => n + c - 1, 0);
  const unconfirmedArrived = billingRows.filter(
    (r) => r.status === 'unconfirmed' && postsByKey.has(`${r.accountId}/${r.template}`),
  ).length;

  const actionsByGuest = new Map<string, number>();
  for (const action of rig.proxmox.actions) actionsByGuest.set(action, (actionsByGuest.get(action) ?? 0) + 1);
  const powerDuplicated = [...actionsByGuest.values()].reduce((n, c) => n + c - 1, 0);

  return {
    restored,
    emailsLost,
    emailsDuplicated,
    emailsExpected: accountIds.length * LADDER_EMAILS.length,
    resendRequests: rig.resend.requests.length,
    billingPosts: [...postsByKey.values()].reduce((a, b) => a + b, 0),
    billingRows: billingRows.length,
    postsLost,
    postsUnconfirmed,
    unconfirmedArrived,
    postsDuplicated,
    powerActions: rig.proxmox.actions.length,
    powerDuplicated,
    distinctGuests: actionsByGuest.size,
  };
}

/** Every ladder completed; no email lost or twice, no billing post lost or twice, no power action twice. */
export function expectNothingLostOrDoubled(t: Awaited<ReturnType<typeof providerTally>>, ladders: number) {
  expect(t.restored).toBe(ladders);
  expect(t.emailsLost).toBe(0);
  expect(t.emailsDuplicated).toBe(0);
  expect(t.postsLost).toBe(0);
  expect(t.postsDuplicated).toBe(0);
  expect(t.powerDuplicated).toBe(0);
}

export function tallyLines(t: Awaited<ReturnType<typeof providerTally>>, ladders: number): string[] {
  return [
    `[faults] ladders finished ${t.restored} of ${ladders}`,
    `[faults] emails: lost ${t.emailsLost}, duplicated ${t.emailsDuplicated}, of ${t.emailsExpected} (Resend requests ${t.resendRequests})`,
    `[faults] Discord billing posts: ${t.billingPosts} for ${t.billingRows} ledger rows, duplicated ${t.postsDuplicated}, lost ${t.postsLost}; unconfirmed ${t.postsUnconfirmed} (of which arrived ${t.unconfirmedArrived})`,
    `[faults] power actions: ${t.powerActions}, duplicated ${t.powerDuplicated} (${t.distinctGuests} distinct)`,
  ];
}

/** The rung an activity worked for, from its scheduled input (undefined: its input names none). */
export function rungOfInput(input: Record<string, unknown>): string | undefined {
  // Steps are "<n>:<rung>"; idempotency keys "<ladder>:<n>:<rung>:<what>".
  if (typeof input.step === 'string') return input.step.split(':').pop();
  if (typeof input.to === 'string') return input.to;
  if (typeof input.idempotencyKey === 'string') return input.idempotencyKey.split(':').at(-2);
  return undefined;
}

export interface ScheduledActivity {
  activityId: string;
  activityType: string;
  /** `type#n`: the n-th activity of that type in the run, the same step in every ladder. */
  step: string;
  /** The rung it worked for; an activity whose input names none (reading the flags) gets the next one's. */
  rung: string;
}

/** A ladder's activities in the order it scheduled them. */
export async function scheduledActivities(handle: WorkflowHandle): Promise<ScheduledActivity[]> {
  const history = await handle.fetchHistory();
  const counts = new Map<string, number>();
  const out: (ScheduledActivity & { own?: string })[] = [];
  for (const event of history.events ?? []) {
    const attrs = event.activityTaskScheduledEventAttributes;
    if (!attrs) continue;
    const activityType = attrs.activityType?.name ?? '?';
    const n = (counts.get(activityType) ?? 0) + 1;
    counts.set(activityType, n);
    const payload = attrs.input?.payloads?.[0]?.data;
    const input = payload
      ? (JSON.parse(Buffer.from(payload).toString('utf8')) as Record<string, unknown>)
      : {};
    out.push({
      activityId: String(attrs.activityId),
      activityType,
      step: `${activityType}#${n}`,
      rung: '?',
      own: rungOfInput(input),
    });
  }
  let next = '?';
  for (let i = out.length - 1; i >= 0; i--) {
    next = out[i]!.own ?? next;
    out[i]!.rung = next;
  }
  return out.map(({ own: _own, ...rest }) => rest);
}
