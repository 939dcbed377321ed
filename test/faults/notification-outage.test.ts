// Resend and Discord fail for a while (500s and 429s with Retry-After, in turn) while ladders
// send their first two rungs' notifications. The worker is the real one (the Resend and Discord
// adapters with their limiters) against stand-ins. Every ladder must go on regardless, and every
// notification must end either sent exactly once (after the providers recover) or recorded
// failed with an ops alert: none pending, none delivered twice.
import { randomUUID } from 'node:crypto';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDevServer, waitFor } from '../../bench/lib.js';
import { createPrisma, type PrismaClient } from '../../src/platform/database.js';
import { createLadderClient } from '../../src/ladder/client.js';
import { notificationTaskQueuesFor, type EnforcementPolicy } from '../../src/workflows/definitions.js';
import {
  discordRateLimited,
  discordServerError,
  startDiscordStandin,
  type DiscordStandin,
} from '../support/standins/discord.js';
import {
  resendRateLimited,
  resendServerError,
  startResendStandin,
  type ResendStandin,
} from '../support/standins/resend.js';
import { startWorkerProcess, workerEnv, type Child } from './support/processes.js';
import { seedAccountWithOpenInvoice } from './support/seed.js';

const LADDERS = 12;
const OUTAGE_MS = 25_000;
// Longer: each rung posts after its email, so the posts start once the emails got through.
const DISCORD_OUTAGE_MS = 50_000;
const SECOND = 1000;
const BILLING_WEBHOOK = '111111111111111111';
const OPS_WEBHOOK = '222222222222222222';

/** Overdue now, the final warning 12 s later (inside the outage too), then nothing for an hour. */
const policy: EnforcementPolicy = {
  version: 'faults-notification-outage',
  finalWarningAfterMs: 12 * SECOND,
  suspendAfterMs: 3_600 * SECOND,
  retainAfterMs: 7_200 * SECOND,
  retentionMs: 3_600 * SECOND,
  restartServersOnRestore: true,
  dryRun: false,
  minAmountDueCents: 100,
  suspensionBreaker: { threshold: 1000, windowMs: 3_600_000 },
  shutdownTimeoutMs: 2 * SECOND,
};

describe('Resend and Discord failing for a while', () => {
  let env: TestWorkflowEnvironment;
  let db: PrismaClient;
  let resend: ResendStandin;
  let discord: DiscordStandin;
  let worker: Child | undefined;
  const taskQueue = `faults-notify-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    env = await startDevServer();
    db = createPrisma(inject('databaseUrl'), { max: 4 });
    resend = await startResendStandin();
    discord = await startDiscordStandin();
  });
  afterAll(async () => {
    await worker?.stop();
    await Promise.all([resend?.close(), discord?.close()]);
    await db?.$disconnect();
    await env?.teardown();
  });

  it('the ladders go on; each notification is sent once after recovery, or failed and alerted', async () => {
    const run = randomUUID().slice(0, 6);
    const accounts = Array.from({ length: LADDERS }, (_, i) => `notify_${run}_${i}`);
    for (const id of accounts) {
      await seedAccountWithOpenInvoice(db, id);
    }
    worker = await startWorkerProcess(
      workerEnv({
        databaseUrl: inject('databaseUrl'),
        temporalAddress: env.address,
        taskQueue,
        extra: {
          RESEND_API_KEY: resend.apiKey,
          RESEND_BASE_URL: resend.url,
          DISCORD_BILLING_WEBHOOK_URL: discord.webhookUrl(BILLING_WEBHOOK),
          DISCORD_OPS_WEBHOOK_URL: discord.webhookUrl(OPS_WEBHOOK),
          FAULTS_DISCORD_API: discord.api,
          // The providers' answers, not our own limiters, are what this test is about.
          EMAIL_RATE_PER_SECOND: '100',
          DISCORD_RATE_PER_SECOND: '100',
        },
      }),
      'test/faults/support/worker-process.ts',
    );

    // Both providers go down, then the ladders start.
    resend.failFor(OUTAGE_MS, resendServerError(), resendRateLimited(3));
    discord.failFor(DISCORD_OUTAGE_MS, discordRateLimited(2), discordServerError());
    const outageEnds = Date.now() + DISCORD_OUTAGE_MS;
    // As the webhook starts them: notifications on their rate-limited queues.
    const ladder = createLadderClient({
      client: env.client,
      taskQueue,
      policy,
      publishSearchAttributes: true,
      notificationTaskQueues: notificationTaskQueuesFor(taskQueue),
    });
    for (const id of accounts) {
      await ladder.paymentFailed(id, {
        invoiceId: `in_${id}`,
        eventId: `evt_${id}`,
        at: new Date().toISOString(),
        amountDue: 2500,
        currency: 'usd',
      });
    }

    // Every ladder reaches the final warning, and no notification is left in flight.
    const ours = { accountId: { in: accounts } };
    const done = await waitFor(
      async () => ({
        finalWarning: await db.billingAccount.count({
          where: { id: { in: accounts }, state: 'final_warning' },
        }),
        pending: await db.notification.count({ where: { ...ours, status: 'pending' } }),
        customer: await db.notification.count({
          where: { ...ours, channel: { in: ['email', 'discord_billing'] } },
        }),
      }),
      // Two rungs × (email + billing post) per ladder.
      (v) => v.finalWarning === LADDERS && v.pending === 0 && v.customer === LADDERS * 4,
      { timeoutMs: 5 * 60_000, everyMs: 1000 },
    );
    const rows = await db.notification.findMany({
      where: { ...ours, channel: { in: ['email', 'discord_billing'] } },
    });
    const alertKeys = new Set(
      (
        await db.notification.findMany({
          where: { ...ours, channel: 'discord_ops' },
          select: { idempotencyKey: true },
        })
      ).map((r) => r.idempotencyKey),
    );

    // What reached the providers after they recovered.
    const emailsByKey = new Map<string, number>();
    for (const d of resend.delivered)
      emailsByKey.set(d.idempotencyKey ?? '-', (emailsByKey.get(d.idempotencyKey ?? '-') ?? 0) + 1);
    const postsByAccountAndTitle = new Map<string, number>();
    // Billing posts go out in digests: every embed of a message is one post.
    for (const p of discord.posted.filter((m) => m.webhookId === BILLING_WEBHOOK)) {
      for (const embed of p.body.embeds ?? []) {
        const key = `${embed.fields?.find((f) => f.name === 'Account')?.value ?? '-'}/${embed.title ?? ''}`;
        postsByAccountAndTitle.set(key, (postsByAccountAndTitle.get(key) ?? 0) + 1);
      }
    }

    let sentOnce = 0;
    let sentButMissing = 0;
    let failedAlerted = 0;
    let failedNotAlerted = 0;
    for (const row of rows) {
      if (row.status === 'failed') {
        if (alertKeys.has(`${row.idempotencyKey}:failed`)) failedAlerted++;
        else failedNotAlerted++;
      } else if (row.status === 'sent') {
        // A Discord row's template is the post's title.
        const delivered =
          row.channel === 'email'
            ? (emailsByKey.get(row.idempotencyKey) ?? 0)
            : (postsByAccountAndTitle.get(`${row.accountId}/${row.template}`) ?? 0);
        if (delivered === 1) sentOnce++;
        else sentButMissing++;
      }
    }
    const emailsDuplicated = [...emailsByKey.values()].reduce((n, c) => n + c - 1, 0);
    const postsDuplicated = [...postsByAccountAndTitle.values()].reduce((n, c) => n + c - 1, 0);
    const settledAfterOutage = Math.max(0, Math.round((Date.now() - outageEnds) / 1000));
    // Requests that delivered nothing: refused during the outage (or replays of a delivered key).
    const refused = resend.requests.length - resend.delivered.length;
    process.stderr.write(
      `[faults] notification outage (500s and 429s: Resend ${OUTAGE_MS / 1000} s, Discord ${DISCORD_OUTAGE_MS / 1000} s): ladders at the final warning ` +
        `${done.value.finalWarning} of ${LADDERS}; of ${rows.length} notifications: sent once ${sentOnce}, ` +
        `failed and alerted ${failedAlerted}, failed without alert ${failedNotAlerted}, sent but not delivered ${sentButMissing}, ` +
        `pending ${done.value.pending}; duplicated: emails ${emailsDuplicated}, Discord posts ${postsDuplicated} ` +
        `(Resend requests ${resend.requests.length}, ${refused} delivered nothing; Discord requests ${discord.requests.length}; ` +
        `all settled ${settledAfterOutage} s after the outage ended)\n`,
    );

    expect(done.met).toBe(true);
    expect(rows).toHaveLength(LADDERS * 4);
    expect(failedNotAlerted).toBe(0);
    expect(sentButMissing).toBe(0);
    expect(sentOnce + failedAlerted).toBe(rows.length);
    expect(emailsDuplicated).toBe(0);
    expect(postsDuplicated).toBe(0);
    // The outage was real: the providers refused requests before they recovered.
    expect(refused).toBeGreaterThan(0);
    expect(discord.requests.length).toBeGreaterThan(discord.posted.length);
  });
});
