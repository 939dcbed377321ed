// The worker is killed with SIGKILL in the middle of activities, again and again, while ladders
// with a seconds-long policy run on the Temporal dev server; a new worker finishes every ladder.
// Providers are stand-ins that count what reached them: Resend (emails), Discord (posts),
// Proxmox (power actions). The worker reaches PostgreSQL through a proxy that can freeze the
// link: with it frozen, every activity in flight hangs at its next query, so describing the
// workflows shows which activities are running at that moment, and the kill lands inside them.
import { randomUUID } from 'node:crypto';
import { type WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPrisma, type PrismaClient } from '../../src/db/client.js';
import { temporalCliExecutable } from '../../src/toolchain/toolchain.js';
import { type billingEnforcementWorkflow } from '../../src/workflows/billing-enforcement.js';
import {
  invoiceSettledSignal,
  paymentFailedSignal,
  SEARCH_ATTRIBUTES,
  workflowIdFor,
  type EnforcementPolicy,
  type PaymentFailed,
} from '../../src/workflows/definitions.js';
import { startDiscordStandin, type DiscordStandin } from '../support/standins/discord.js';
import { startProxmoxStandin, type ProxmoxStandin } from '../support/standins/proxmox.js';
import { startResendStandin, type ResendStandin } from '../support/standins/resend.js';
import { startHoldProxy, type HoldProxy } from './support/hold-proxy.js';
import { sleep, startWorkerProcess, workerEnv, type Child } from './support/processes.js';

const LADDERS = 8;
/** Kill rounds stop after this; the ladders then finish on the last worker. */
const KILL_PHASE_MS = Number(process.env.FAULTS_KILL_PHASE_MS ?? 240_000);
const SECOND = 1000;
const PENDING_ACTIVITY_STATE_STARTED = 2;
const BILLING_WEBHOOK = '111111111111111111';
const OPS_WEBHOOK = '222222222222222222';

const policy: EnforcementPolicy = {
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

interface Kill {
  workflowId: string;
  activityId: string;
  activityType: string;
  attempt: number;
}

describe('worker killed with SIGKILL inside activities', () => {
  let env: TestWorkflowEnvironment;
  let db: PrismaClient;
  let proxy: HoldProxy;
  let resend: ResendStandin;
  let discord: DiscordStandin;
  let proxmox: ProxmoxStandin;
  let worker: Child | undefined;
  const taskQueue = `faults-sigkill-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    try {
      Runtime.install({ logger: new DefaultLogger('ERROR') });
    } catch {
      // installed by an earlier file in this process
    }
    env = await TestWorkflowEnvironment.createLocal({
      server: { executable: temporalCliExecutable(), searchAttributes: SEARCH_ATTRIBUTES },
    });
    db = createPrisma(inject('databaseUrl'), { max: 4 });
    const url = new URL(inject('databaseUrl'));
    proxy = await startHoldProxy({ host: url.hostname, port: Number(url.port) });
    resend = await startResendStandin();
    discord = await startDiscordStandin();
    proxmox = await startProxmoxStandin();
  });
  afterAll(async () => {
    await worker?.kill();
    await proxy?.close();
    await Promise.all([resend?.close(), discord?.close(), proxmox?.close()]);
    await db?.$disconnect();
    await env?.teardown();
  });

  it('a new worker finishes every ladder: nothing lost, no email, post or power action twice', async () => {
    const viaProxy = new URL(inject('databaseUrl'));
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const spawnWorker = () =>
      startWorkerProcess(
        workerEnv({
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
            SERVER_CONTROL: 'proxmox',
            PROXMOX_API_URL: proxmox.url,
            PROXMOX_TOKEN_ID: proxmox.tokenId,
            PROXMOX_TOKEN_SECRET: proxmox.tokenSecret,
          },
        }),
        'test/faults/support/worker-process.ts',
      );

    const run = randomUUID().slice(0, 6);
    const accounts = Array.from({ length: LADDERS }, (_, i) => ({
      accountId: `sigkill_${run}_${i}`,
      invoiceId: `in_sigkill_${run}_${i}`,
      vmid: 700_000 + Math.floor(Math.random() * 100_000) * 10 + i,
    }));
    for (const a of accounts) {
      await db.billingAccount.create({
        data: {
          id: a.accountId,
          stripeCustomerId: `cus_${a.accountId}`,
          email: `${a.accountId}@customer.example.test`,
          name: 'Fault Customer',
          servers: { create: [{ vmid: a.vmid, node: 'pve1', kind: 'qemu', powerState: 'running' }] },
          invoices: {
            create: [
              {
                id: a.invoiceId,
                status: 'open',
                amountDue: 2500,
                currency: 'usd',
                lastEventCreatedAt: new Date(),
              },
            ],
          },
        },
      });
      proxmox.addGuest('pve1', 'qemu', a.vmid, { status: 'running', shutdownMs: 200 });
    }

    worker = await spawnWorker();
    const handles: WorkflowHandle<typeof billingEnforcementWorkflow>[] = [];
    for (const a of accounts) {
      handles.push(
        await env.client.workflow.signalWithStart<typeof billingEnforcementWorkflow, [PaymentFailed]>(
          'billingEnforcementWorkflow',
          {
            workflowId: workflowIdFor(a.accountId),
            taskQueue,
            args: [{ accountId: a.accountId, policy, publishSearchAttributes: true }],
            signal: paymentFailedSignal,
            signalArgs: [
              {
                invoiceId: a.invoiceId,
                eventId: `evt_${a.accountId}`,
                at: new Date().toISOString(),
                amountDue: 2500,
                currency: 'usd',
              },
            ],
          },
        ),
      );
      // Staggered, so that at any moment the ladders are in different activities.
      await sleep(1500);
    }

    const settled = new Set<string>();
    /** Once the deletion review is due, the customer pays: the restore rung runs too. */
    const settleDue = async () => {
      const due = await db.billingEnforcementEvent.findMany({
        where: { accountId: { in: accounts.map((a) => a.accountId) }, kind: 'deletion_review_due' },
        select: { accountId: true },
      });
      for (const { accountId } of due) {
        if (settled.has(accountId)) continue;
        settled.add(accountId);
        const a = accounts.find((x) => x.accountId === accountId)!;
        await env.client.workflow.getHandle(workflowIdFor(accountId)).signal(invoiceSettledSignal, {
          invoiceId: a.invoiceId,
          how: 'paid',
          eventId: `evt_paid_${accountId}`,
          at: new Date().toISOString(),
        });
      }
    };
    const running = async () => {
      const states = await Promise.all(handles.map((h) => h.describe()));
      return states.filter((d) => d.status.name === 'RUNNING').length;
    };

    const kills: Kill[] = [];
    const seen = new Set<string>();
    const killPhaseEnds = Date.now() + KILL_PHASE_MS;
    let rounds = 0;
    while (Date.now() < killPhaseEnds && (await running()) > 0) {
      await settleDue();
      await sleep(300 + Math.random() * 2500);
      rounds++;
      proxy.hold();
      let caught: Kill[] = [];
      const waitUntil = Date.now() + 4000;
      while (Date.now() < waitUntil) {
        const descriptions = await Promise.all(handles.map((h) => h.describe()));
        caught = descriptions.flatMap((d) =>
          (d.raw.pendingActivities ?? [])
            .filter((p) => Number(p.state) === PENDING_ACTIVITY_STATE_STARTED)
            .map((p) => ({
              workflowId: d.workflowId,
              activityId: String(p.activityId),
              activityType: p.activityType?.name ?? '?',
              attempt: p.attempt ?? 1,
            }))
            .filter((k) => !seen.has(`${k.workflowId}/${k.activityId}/${k.attempt}`)),
        );
        if (caught.length) break;
        await sleep(100);
      }
      if (!caught.length) {
        proxy.release();
        continue;
      }
      await worker.kill();
      proxy.release();
      for (const k of caught) {
        seen.add(`${k.workflowId}/${k.activityId}/${k.attempt}`);
        kills.push(k);
      }
      process.stderr.write(
        `[faults] round ${rounds}: SIGKILL inside ${caught.map((k) => k.activityType).join(', ')}\n`,
      );
      worker = await spawnWorker();
    }

    // No more kills: the last worker finishes. A killed activity comes back after its
    // start-to-close (1-2 min) or heartbeat (5 min, server stops) timeout.
    const finishBy = Date.now() + 9 * 60_000;
    while ((await running()) > 0 && Date.now() < finishBy) {
      await settleDue();
      await sleep(2000);
    }
    const results = await Promise.all(handles.map((h) => h.result().catch((e: unknown) => String(e))));

    // Which rung each killed activity belonged to, from its scheduled input in the history.
    const caughtPairs = new Set<string>();
    for (const handle of handles) {
      const history = await handle.fetchHistory();
      for (const event of history.events ?? []) {
        const attrs = event.activityTaskScheduledEventAttributes;
        if (!attrs) continue;
        const kill = kills.find(
          (k) => k.workflowId === handle.workflowId && k.activityId === attrs.activityId,
        );
        if (!kill) continue;
        const payload = attrs.input?.payloads?.[0]?.data;
        const input = payload
          ? (JSON.parse(Buffer.from(payload).toString('utf8')) as Record<string, unknown>)
          : {};
        const rung =
          (input.template as string | undefined) ??
          (input.to as string | undefined) ??
          (typeof input.step === 'string' ? input.step.split(':').pop() : undefined) ??
          (typeof input.title === 'string' ? input.title.split(':')[0] : '?');
        caughtPairs.add(`${rung}/${kill.activityType}`);
      }
    }

    // What reached the providers, per account.
    const expectedTemplates = ['payment_failed', 'final_warning', 'suspended', 'retained', 'restored'];
    const emails = await db.notification.findMany({
      where: { accountId: { in: accounts.map((a) => a.accountId) }, channel: 'email' },
    });
    const deliveredByKey = new Map<string, number>();
    for (const d of resend.delivered)
      deliveredByKey.set(d.idempotencyKey ?? '?', (deliveredByKey.get(d.idempotencyKey ?? '?') ?? 0) + 1);
    const keyOf = new Map(emails.map((e) => [`${e.accountId}/${e.template}`, e.idempotencyKey]));
    let emailsLost = 0;
    let emailsDuplicated = 0;
    for (const a of accounts) {
      for (const t of expectedTemplates) {
        const n = deliveredByKey.get(keyOf.get(`${a.accountId}/${t}`) ?? '-') ?? 0;
        if (n === 0) emailsLost++;
        if (n > 1) emailsDuplicated += n - 1;
      }
    }
    const postsByTitle = new Map<string, number>();
    for (const p of discord.posted) {
      const embed = p.body.embeds?.[0];
      const account = embed?.fields?.find((f) => f.name === 'Account')?.value ?? '-';
      const key = `${p.webhookId}/${account}/${embed?.title ?? ''}`;
      postsByTitle.set(key, (postsByTitle.get(key) ?? 0) + 1);
    }
    const billingPosts = [...postsByTitle].filter(([k]) => k.startsWith(BILLING_WEBHOOK));
    const postsDuplicated = billingPosts.reduce((n, [, c]) => n + c - 1, 0);
    const ledgerPosts = await db.notification.count({
      where: { accountId: { in: accounts.map((a) => a.accountId) }, channel: 'discord_billing' },
    });
    const actionsByGuest = new Map<string, number>();
    for (const action of proxmox.actions) actionsByGuest.set(action, (actionsByGuest.get(action) ?? 0) + 1);
    const powerDuplicated = [...actionsByGuest.values()].reduce((n, c) => n + c - 1, 0);
    const restored = results.filter((r) => typeof r === 'object' && r.outcome === 'restored').length;

    process.stderr.write(
      [
        `[faults] SIGKILL: ${kills.length} activities killed in ${rounds} rounds; (rung/activity) pairs caught: ${caughtPairs.size}`,
        `[faults]   ${[...caughtPairs].sort().join(', ')}`,
        `[faults] ladders finished ${restored} of ${LADDERS}`,
        `[faults] emails: lost ${emailsLost}, duplicated ${emailsDuplicated}, of ${LADDERS * expectedTemplates.length} (Resend requests ${resend.requests.length})`,
        `[faults] Discord billing posts: ${discord.posted.filter((p) => p.webhookId === BILLING_WEBHOOK).length} for ${ledgerPosts} ledger rows, duplicated ${postsDuplicated}`,
        `[faults] power actions: ${proxmox.actions.length}, duplicated ${powerDuplicated} (${[...actionsByGuest.keys()].length} distinct)`,
        '',
      ].join('\n'),
    );

    expect(kills.length).toBeGreaterThan(0);
    expect(restored).toBe(LADDERS);
    expect(emailsLost).toBe(0);
    expect(emailsDuplicated).toBe(0);
    expect(powerDuplicated).toBe(0);
    expect(billingPosts.length).toBe(ledgerPosts);
    expect(postsDuplicated).toBe(0);
  });
});
