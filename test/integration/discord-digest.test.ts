// Billing-channel digests: many ladders' posts as Discord messages of up to 10 embeds, through
// the real notifyDiscord activity, the Notification ledger in PostgreSQL and discord.js's
// WebhookClient against the Discord stand-in (which refuses what Discord refuses: more than 10
// embeds, more than 6,000 characters of embed text, more than its rate).
import { DiscordAPIError, WebhookClient } from 'discord.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { createDiscordChatNotifier } from '../../src/adapters/discord/chat.js';
import { PermanentDeliveryError, type ChatNotifier } from '../../src/adapters/ports/notifications.js';
import {
  discordBadRequest,
  embedText,
  startDiscordStandin,
  TOKEN,
  type DiscordStandin,
} from '../support/standins/discord.js';
import { db, recordingDeps, seedAccount } from './support/harness.js';

const BILLING_ID = '111111111111111111';
const OPS_ID = '222222222222222222';

describe('Discord digests for the billing channel', () => {
  let discord: DiscordStandin;
  beforeAll(async () => {
    // Discord's burst limit on a webhook (5 requests in 2 s): the digests must stay within it.
    discord = await startDiscordStandin({ rateLimit: { messages: 5, perMs: 2000 } });
  });
  afterEach(() => {
    discord.requests.length = 0;
    discord.posted.length = 0;
  });
  afterAll(async () => {
    await discord.close();
  });

  const notifier = () =>
    createDiscordChatNotifier({
      billing: discord.webhookUrl(BILLING_ID),
      ops: discord.webhookUrl(OPS_ID),
      apiBaseUrl: discord.api,
      perSecond: 2,
    });
  const billingPosts = () => discord.posted.filter((p) => p.webhookId === BILLING_ID);
  const accountsIn = (embeds: { fields?: { name: string; value: string }[] }[] | undefined) =>
    (embeds ?? []).map((e) => e.fields?.find((f) => f.name === 'Account')?.value);

  async function herd(n: number) {
    const accounts: string[] = [];
    for (let i = 0; i < n; i++) accounts.push((await seedAccount({ servers: [] })).accountId);
    return accounts;
  }
  const billingInput = (accountId: string, detail?: string) => ({
    accountId,
    channel: 'billing' as const,
    idempotencyKey: `billing-enforcement:${accountId}:run:1:overdue:discord-billing`,
    title: 'Payment failed: account overdue',
    state: 'overdue' as const,
    ...(detail ? { detail } : {}),
    workflowId: `billing-enforcement:${accountId}`,
  });

  it('25 posts at once go out as 3 messages (10, 10, 5): each row in exactly one, rows of a message share its id', async () => {
    const accounts = await herd(25);
    const activities = createActivities({ ...recordingDeps(), chat: notifier() });
    const outcomes = await Promise.all(accounts.map((a) => activities.notifyDiscord(billingInput(a))));
    expect(outcomes).toEqual(accounts.map(() => 'sent'));

    const posts = billingPosts();
    expect(posts.map((p) => p.body.embeds?.length)).toEqual([10, 10, 5]);
    const posted = posts.flatMap((p) => accountsIn(p.body.embeds));
    expect(posted.toSorted()).toEqual(accounts.toSorted());
    // No answer was a refusal: every request the stand-in saw became a message.
    expect(discord.requests).toHaveLength(3);

    const rows = await db().notification.findMany({ where: { accountId: { in: accounts } } });
    expect(rows.map((r) => r.status)).toEqual(accounts.map(() => 'sent'));
    expect(rows.every((r) => r.sendingAt === null && r.attempts === 1)).toBe(true);
    // The rows of a message carry that message's id: 3 distinct ids, 10 + 10 + 5 rows.
    const byMessage = new Map<string, number>();
    for (const r of rows) byMessage.set(r.providerMessageId!, (byMessage.get(r.providerMessageId!) ?? 0) + 1);
    expect([...byMessage.values()].toSorted((a, b) => a - b)).toEqual([5, 10, 10]);
  });

  it('long embeds are packed within 6,000 characters per message', async () => {
    const accounts = await herd(7);
    const activities = createActivities({ ...recordingDeps(), chat: notifier() });
    const detail = 'x'.repeat(1800);
    await Promise.all(accounts.map((a) => activities.notifyDiscord(billingInput(a, detail))));
    const posts = billingPosts();
    const sizes = posts.map((p) => (p.body.embeds ?? []).map(embedText));
    // About 2,000 characters each: two or three to a message, never over 6,000, and each message
    // as full as the next embed allows (it would not have fitted).
    expect(sizes.length).toBeGreaterThan(1);
    expect(sizes.length).toBeLessThan(7);
    for (const [i, s] of sizes.entries()) {
      const total = s.reduce((a, b) => a + b, 0);
      expect(total).toBeLessThanOrEqual(6000);
      if (i + 1 < sizes.length) expect(total + sizes[i + 1]![0]!).toBeGreaterThan(6000);
    }
    expect(discord.requests).toHaveLength(sizes.length);
    expect(posts.flatMap((p) => accountsIn(p.body.embeds)).toSorted()).toEqual(accounts.toSorted());
  });

  it('ops alerts stay one message each, even when raised together', async () => {
    const accounts = await herd(3);
    const activities = createActivities({ ...recordingDeps(), chat: notifier() });
    await Promise.all(
      accounts.map((accountId) =>
        activities.notifyDiscord({
          accountId,
          channel: 'ops',
          idempotencyKey: `ops:${accountId}:held`,
          title: 'Circuit breaker: suspension held',
        }),
      ),
    );
    const ops = discord.posted.filter((p) => p.webhookId === OPS_ID);
    expect(ops.map((p) => p.body.embeds?.length)).toEqual([1, 1, 1]);
  });

  it('a digest Discord refuses (400) is not the end of its rows: each goes again on its own', async () => {
    const accounts = await herd(3);
    const activities = createActivities({ ...recordingDeps(), chat: notifier() });
    discord.script(discordBadRequest());
    const outcomes = await Promise.all(accounts.map((a) => activities.notifyDiscord(billingInput(a))));
    expect(outcomes).toEqual(['sent', 'sent', 'sent']);
    expect(discord.requests.map((r) => (JSON.parse(r.body) as { embeds: unknown[] }).embeds.length)).toEqual([
      3, 1, 1, 1,
    ]);
  });

  it('a worker that dies between the POST and recording it: every row of the message is unconfirmed, none posted again', async () => {
    const accounts = await herd(4);
    const real = notifier();
    // The worker "dies" once Discord has answered: the answer never reaches our code.
    const dying: ChatNotifier = {
      kind: real.kind,
      post: real.post.bind(real),
      postMany: async (channel, messages, options) => {
        await real.postMany!(channel, messages, options);
        return new Promise(() => undefined);
      },
    };
    const first = createActivities({ ...recordingDeps(), chat: dying });
    for (const a of accounts) void first.notifyDiscord(billingInput(a));
    const rowsOf = () =>
      db().notification.findMany({ where: { accountId: { in: accounts }, channel: 'discord_billing' } });
    for (let i = 0; i < 100 && billingPosts().length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(billingPosts().map((p) => p.body.embeds?.length)).toEqual([4]);
    expect((await rowsOf()).every((r) => r.status === 'pending' && r.sendingAt !== null)).toBe(true);

    // Temporal retries each activity on the next worker.
    const next = createActivities({ ...recordingDeps(), chat: notifier() });
    const outcomes = await Promise.all(accounts.map((a) => next.notifyDiscord(billingInput(a))));
    expect(outcomes).toEqual(accounts.map(() => 'unconfirmed'));
    expect(billingPosts()).toHaveLength(1);
    expect((await rowsOf()).map((r) => r.status)).toEqual(accounts.map(() => 'unconfirmed'));
    // Ops hear about each row (one alert per row, keyed: a repeat posts nothing).
    expect(discord.posted.filter((p) => p.webhookId === OPS_ID)).toHaveLength(4);
  });

  it('the adapter refuses a message Discord would refuse, and the stand-in answers 400 as Discord does', async () => {
    const message = (description = 'd') => ({ title: 't', description, fields: [], color: 1 });
    const chat = notifier();
    await expect(
      chat.postMany!(
        'billing',
        Array.from({ length: 11 }, () => message()),
      ),
    ).rejects.toBeInstanceOf(PermanentDeliveryError);
    await expect(
      chat.postMany!('billing', [message('y'.repeat(3500)), message('y'.repeat(3500))]),
    ).rejects.toBeInstanceOf(PermanentDeliveryError);
    expect(discord.requests).toHaveLength(0);

    const raw = new WebhookClient(
      { id: BILLING_ID, token: TOKEN },
      { rest: { api: discord.api, retries: 0 } },
    );
    const tooMany = await raw
      .send({ embeds: Array.from({ length: 11 }, (_, i) => ({ title: `t${i}` })) })
      .catch((e: unknown) => e);
    expect(tooMany).toBeInstanceOf(DiscordAPIError);
    expect((tooMany as DiscordAPIError).status).toBe(400);
    const tooLong = await raw
      .send({ embeds: [{ description: 'z'.repeat(4000) }, { description: 'z'.repeat(2001) }] })
      .catch((e: unknown) => e);
    expect((tooLong as DiscordAPIError).status).toBe(400);
    const fits = await raw.send({
      embeds: Array.from({ length: 10 }, () => ({ description: 'z'.repeat(600) })),
    });
    expect(fits.embeds).toHaveLength(10);
    raw.destroy();
  });
});
