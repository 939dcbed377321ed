// The ladder on the time-skipping server with the real activities and the real Resend and
// Discord adapters pointed at local stand-ins: provider failures at the workflow level.
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment, type TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { createDiscordChatNotifier } from '../../src/adapters/discord/chat.js';
import { createResendEmailSender } from '../../src/adapters/resend/email.js';
import { discordServerError, startDiscordStandin, type DiscordStandin } from '../support/standins/discord.js';
import {
  resendRateLimited,
  resendServerError,
  resendValidationError,
  startResendStandin,
  type ResendStandin,
} from '../support/standins/resend.js';
import {
  db,
  HOUR,
  notificationsOf,
  recordingDeps,
  seedAccount,
  startLadder,
  startWorker,
  useTimeSkippingEnv,
  waitForState,
} from './support/harness.js';

const OPS_ID = '222222222222222222';
const BILLING_ID = '111111111111111111';

async function waitForEmail(accountId: string, template: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = await db().notification.findFirst({ where: { accountId, channel: 'email', template } });
    if (row && (row.status === 'sent' || row.status === 'failed')) return row;
    if (Date.now() > deadline)
      throw new Error(
        `email ${template} not settled: ${JSON.stringify(row && { status: row.status, error: row.error })}`,
      );
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('provider failures on the ladder (Resend and Discord stand-ins)', () => {
  const timeSkipping = useTimeSkippingEnv();
  let env: TestWorkflowEnvironment;
  let resend: ResendStandin;
  let discord: DiscordStandin;
  beforeAll(async () => {
    resend = await startResendStandin();
    discord = await startDiscordStandin();
  });
  afterAll(async () => {
    await resend.close();
    await discord.close();
  });
  beforeEach(() => {
    env = timeSkipping();
  });
  afterEach(() => {
    for (const s of [resend, discord]) s.requests.length = 0;
    resend.delivered.length = 0;
    discord.posted.length = 0;
  });

  const deps = () => ({
    ...recordingDeps(),
    email: createResendEmailSender({
      apiKey: resend.apiKey,
      from: 'Billing <billing@host.example>',
      baseUrl: resend.url,
    }),
    chat: createDiscordChatNotifier({
      billing: discord.webhookUrl(BILLING_ID),
      ops: discord.webhookUrl(OPS_ID),
      apiBaseUrl: discord.api,
      perSecond: 100,
    }),
  });

  it('400 from Resend: the email is recorded failed, ops is alerted (no address), the ladder goes on', async () => {
    const { worker, taskQueue } = await startWorker(env, deps());
    const { accountId, invoiceIds } = await seedAccount();
    resend.script(resendValidationError());
    await worker.runUntil(async () => {
      const handle = await startLadder(env, taskQueue, accountId, invoiceIds[0]!);
      await waitForState(handle, 'overdue');
      const failed = await waitForEmail(accountId, 'payment_failed');
      expect(failed).toMatchObject({ status: 'failed', attempts: 1 });
      await env.sleep(73 * HOUR);
      await waitForState(handle, 'final_warning');
      expect(await waitForEmail(accountId, 'final_warning')).toMatchObject({ status: 'sent' });
    });
    expect(resend.requests).toHaveLength(2);
    expect(resend.delivered.map((d) => d.subject)).toEqual([expect.stringMatching(/^Final notice/)]);
    const ops = discord.posted.filter((p) => p.webhookId === OPS_ID);
    expect(ops.map((p) => p.body.embeds![0]!.title)).toEqual(['Notification failed: payment_failed']);
    expect(JSON.stringify(ops)).not.toContain('@customer.example.test');
    const rows = await notificationsOf(accountId);
    expect(rows.find((r) => r.channel === 'discord_ops')).toMatchObject({ status: 'sent' });
  });

  it('500 ×3 then 200: Temporal retries the activity and the customer gets one email', async () => {
    const { worker, taskQueue } = await startWorker(env, deps());
    const { accountId, invoiceIds } = await seedAccount();
    resend.script(resendServerError(), resendServerError(), resendServerError());
    await worker.runUntil(async () => {
      const handle = await startLadder(env, taskQueue, accountId, invoiceIds[0]!);
      await waitForState(handle, 'overdue');
      // The retry backoff (2 s, 4 s, 8 s) passes in real time: the test server does not skip it.
      expect(await waitForEmail(accountId, 'payment_failed')).toMatchObject({ status: 'sent', attempts: 4 });
    });
    expect(resend.requests).toHaveLength(4);
    expect(new Set(resend.requests.map((r) => r.headers['idempotency-key'])).size).toBe(1);
    expect(resend.delivered).toHaveLength(1);
    expect(discord.posted.filter((p) => p.webhookId === OPS_ID)).toHaveLength(0);
  });

  it('a crash between sending and recording: the retry carries the same Idempotency-Key, one email', async () => {
    const { worker, taskQueue } = await startWorker(env, deps());
    const { accountId, invoiceIds } = await seedAccount();
    // Resend accepts and delivers, then the answer is lost (as if the worker died before the
    // ledger update): the activity fails and is retried.
    resend.script('handle-then-drop');
    await worker.runUntil(async () => {
      const handle = await startLadder(env, taskQueue, accountId, invoiceIds[0]!);
      await waitForState(handle, 'overdue');
      expect(await waitForEmail(accountId, 'payment_failed')).toMatchObject({ status: 'sent', attempts: 2 });
    });
    expect(resend.requests).toHaveLength(2);
    const keys = resend.requests.map((r) => r.headers['idempotency-key']);
    expect(keys[0]).toBe(keys[1]);
    expect(keys[0]).toMatch(/^billing-enforcement:acct_.+:email$/);
    expect(resend.delivered).toHaveLength(1);
    const row = await db().notification.findFirstOrThrow({ where: { accountId, channel: 'email' } });
    expect(row.providerMessageId).toBe(resend.delivered[0]!.id);
  });
});

// What Temporal does between attempts (backoff, nextRetryDelay) cannot be skipped on the
// time-skipping server, so long waits are checked one attempt at a time, in an activity context.
describe('notifications attempt by attempt (Resend and Discord stand-ins)', () => {
  let resend: ResendStandin;
  let discord: DiscordStandin;
  beforeAll(async () => {
    resend = await startResendStandin();
    discord = await startDiscordStandin();
  });
  afterAll(async () => {
    await resend.close();
    await discord.close();
  });
  afterEach(() => {
    resend.delivered.length = 0;
    discord.posted.length = 0;
  });

  const activities = () =>
    createActivities({
      ...recordingDeps(),
      email: createResendEmailSender({
        apiKey: resend.apiKey,
        from: 'Billing <billing@host.example>',
        baseUrl: resend.url,
      }),
      chat: createDiscordChatNotifier({
        billing: discord.webhookUrl(BILLING_ID),
        ops: discord.webhookUrl(OPS_ID),
        apiBaseUrl: discord.api,
        perSecond: 100,
      }),
    });
  const input = (accountId: string) => ({
    accountId,
    template: 'payment_failed' as const,
    idempotencyKey: `billing-enforcement:${accountId}:run:1:overdue:email`,
    dryRun: false,
    nextActionAt: new Date(Date.now() + 72 * HOUR).toISOString(),
    at: new Date().toISOString(),
    workflowId: `billing-enforcement:${accountId}`,
    runId: 'run',
  });

  it('429 with a long Retry-After: the attempt fails with nextRetryDelay = Retry-After; the next one sends', async () => {
    const { accountId } = await seedAccount();
    resend.script(resendRateLimited(300));
    const error = await new MockActivityEnvironment({ attempt: 1 })
      .run((i: ReturnType<typeof input>) => activities().sendCustomerEmail(i), input(accountId))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect(error).toMatchObject({ type: 'RateLimitedError', nonRetryable: false, nextRetryDelay: 300_000 });
    expect(resend.delivered).toHaveLength(0);
    const outcome = await new MockActivityEnvironment({ attempt: 2 }).run(
      (i: ReturnType<typeof input>) => activities().sendCustomerEmail(i),
      input(accountId),
    );
    expect(outcome).toBe('sent');
    expect(resend.delivered).toHaveLength(1);
    expect(await notificationsOf(accountId)).toMatchObject([{ status: 'sent', attempts: 2 }]);
  });

  it('5xx on the last attempt: recorded failed and ops alerted instead of retrying forever', async () => {
    const { accountId } = await seedAccount();
    resend.script(resendServerError());
    const outcome = await new MockActivityEnvironment({ attempt: 5 }).run(
      (i: ReturnType<typeof input>) => activities().sendCustomerEmail(i),
      input(accountId),
    );
    expect(outcome).toBe('failed');
    const rows = await notificationsOf(accountId);
    expect(rows.map((r) => [r.channel, r.status])).toEqual([
      ['email', 'failed'],
      ['discord_ops', 'sent'],
    ]);
    expect(resend.delivered).toHaveLength(0);
  });

  const discordInput = (accountId: string) => ({
    accountId,
    channel: 'billing' as const,
    idempotencyKey: `billing-enforcement:${accountId}:run:1:overdue:discord-billing`,
    title: 'Payment failed: account overdue',
    workflowId: `billing-enforcement:${accountId}`,
  });
  const notify = (attempt: number, accountId: string) =>
    new MockActivityEnvironment({ attempt }).run(
      (i: ReturnType<typeof discordInput>) => activities().notifyDiscord(i),
      discordInput(accountId),
    );

  // A Discord webhook has no idempotency key: a post that reached Discord while the worker died
  // before recording it cannot be told apart from one that never left. The ledger marks the
  // moment before the request; the next attempt finds the mark and does not post a second time.
  it('Discord: the ledger row left by an attempt killed mid-request: unconfirmed, not posted again, ops told once', async () => {
    const { accountId } = await seedAccount();
    // What a worker killed between its request and Discord's answer leaves behind.
    await db().notification.create({
      data: {
        accountId,
        channel: 'discord_billing',
        template: discordInput(accountId).title,
        subject: discordInput(accountId).title,
        idempotencyKey: discordInput(accountId).idempotencyKey,
        status: 'pending',
        sendingAt: new Date(),
      },
    });
    expect(await notify(2, accountId)).toBe('unconfirmed');
    expect(await notify(3, accountId)).toBe('unconfirmed');
    expect(discord.posted.filter((p) => p.webhookId === BILLING_ID)).toHaveLength(0);
    const alerts = discord.posted.filter((p) => p.webhookId === OPS_ID);
    expect(alerts.map((p) => p.body.embeds?.[0]?.title)).toEqual([
      'Notification unconfirmed: Payment failed: account overdue',
    ]);
    const rows = await notificationsOf(accountId);
    expect(rows.map((r) => [r.channel, r.status])).toEqual([
      ['discord_billing', 'unconfirmed'],
      ['discord_ops', 'sent'],
    ]);
  });

  it('Discord: an answer, even a 500, clears the mark: the retry posts, once', async () => {
    const { accountId } = await seedAccount();
    discord.script(discordServerError());
    await expect(notify(1, accountId)).rejects.toThrow();
    const [afterError] = await notificationsOf(accountId);
    expect(afterError).toMatchObject({ status: 'pending', sendingAt: null, attempts: 1 });
    expect(await notify(2, accountId)).toBe('sent');
    expect(discord.posted.filter((p) => p.webhookId === BILLING_ID)).toHaveLength(1);
    expect(await notificationsOf(accountId)).toMatchObject([
      { status: 'sent', sendingAt: null, attempts: 2 },
    ]);
  });
});
