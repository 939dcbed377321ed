// The Discord adapter (discord.js WebhookClient) against a local stand-in of the webhook API,
// through the notifyDiscord / alertOps activities and the real Notification ledger.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { createDiscordChatNotifier } from '../../src/adapters/discord/chat.js';
import { PermanentDeliveryError, RateLimitedError } from '../../src/adapters/ports/notifications.js';
import {
  discordBadRequest,
  discordRateLimited,
  discordServerError,
  startDiscordStandin,
  type DiscordStandin,
} from '../support/standins/discord.js';
import { notificationsOf, recordingDeps, seedAccount } from './support/harness.js';

const BILLING_ID = '111111111111111111';
const OPS_ID = '222222222222222222';

describe('Discord alerts', () => {
  let discord: DiscordStandin;
  beforeAll(async () => {
    discord = await startDiscordStandin();
  });
  afterEach(() => {
    discord.requests.length = 0;
    discord.posted.length = 0;
  });
  afterAll(async () => {
    await discord.close();
  });

  const notifier = (extra: { maxRateLimitWaitMs?: number } = {}) =>
    createDiscordChatNotifier({
      billing: discord.webhookUrl(BILLING_ID),
      ops: discord.webhookUrl(OPS_ID),
      apiBaseUrl: discord.api,
      perSecond: 100,
      ...extra,
    });
  const activitiesWith = (chat = notifier()) => createActivities({ ...recordingDeps(), chat });
  const message = { title: 't', description: 'd', fields: [], color: 1 };

  it('a transition goes to the billing webhook as an embed: account, state, amount, next action, workflow link; no email address', async () => {
    const { accountId } = await seedAccount({ invoices: [{ amountDue: 4200 }] });
    const workflowId = `billing-enforcement:${accountId}`;
    const outcome = await activitiesWith().notifyDiscord({
      accountId,
      channel: 'billing',
      idempotencyKey: `${workflowId}:run:1:overdue:discord-billing`,
      title: 'Payment failed: account overdue',
      state: 'overdue',
      nextActionAt: '2030-01-04T00:00:00.000Z',
      detail: `Open invoices: in_1 (customer ${accountId}@customer.example.test)`,
      workflowId,
    });
    expect(outcome).toBe('sent');
    expect(discord.requests).toHaveLength(1);
    const [request] = discord.requests;
    expect(request!.method).toBe('POST');
    expect(request!.path).toBe(`/api/v10/webhooks/${BILLING_ID}/${'T'.repeat(68)}`);
    expect(request!.query.get('wait')).toBe('true');
    const body = discord.posted[0]!.body;
    expect(body.allowed_mentions).toEqual({ parse: [] });
    const embed = body.embeds![0]!;
    expect(embed.title).toBe('Payment failed: account overdue');
    const link = `http://localhost:8233/namespaces/default/workflows/${encodeURIComponent(workflowId)}`;
    expect(embed.url).toBe(link);
    expect(Object.fromEntries(embed.fields!.map((f) => [f.name, f.value]))).toEqual({
      Account: accountId,
      State: 'overdue',
      'Amount due': 'USD 42.00',
      'Next action': '2030-01-04T00:00:00.000Z',
      Workflow: `[open in the Temporal UI](${link})`,
    });
    expect(request!.body).not.toMatch(/@customer\.example\.test/);
    expect(embed.description).toContain('[email redacted]');
    const [row] = await notificationsOf(accountId);
    expect(row).toMatchObject({ channel: 'discord_billing', status: 'sent' });
    expect(row!.providerMessageId).toMatch(/^\d+$/);
  });

  it('ops alerts (webhook, reconciliation) go to the ops webhook, once per key', async () => {
    const { accountId } = await seedAccount();
    const activities = activitiesWith();
    const input = {
      accountId,
      channel: 'ops' as const,
      idempotencyKey: `drift:${accountId}:2030-01-01`,
      title: 'Reconciliation drift',
      detail: 'Stripe says paid, the ladder says overdue',
    };
    expect(await activities.notifyDiscord(input)).toBe('sent');
    expect(await activities.notifyDiscord(input)).toBe('already_sent');
    expect(discord.posted.map((p) => p.webhookId)).toEqual([OPS_ID]);
    expect(discord.posted[0]!.body.embeds![0]!.title).toBe('Reconciliation drift');
    // No state given: the account's own state and amount are looked up.
    const fields = discord.posted[0]!.body.embeds![0]!.fields!.map((f) => [f.name, f.value]);
    expect(fields).toEqual([
      ['Account', accountId],
      ['State', 'active'],
      ['Amount due', 'USD 25.00'],
    ]);
  });

  it('429 then 200: discord.js waits Retry-After and posts once', async () => {
    discord.script(discordRateLimited(1));
    await notifier().post('billing', message);
    expect(discord.requests).toHaveLength(2);
    expect(discord.requests[1]!.at - discord.requests[0]!.at).toBeGreaterThanOrEqual(950);
    expect(discord.posted).toHaveLength(1);
  });

  it('a long 429 is handed back with its delay instead of blocking the activity', async () => {
    discord.script(discordRateLimited(90));
    const chat = notifier();
    const started = Date.now();
    const error = await chat.post('ops', message).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBeGreaterThanOrEqual(90_000);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(discord.posted).toHaveLength(0);
  });

  it('500 ×3 then 200: each failure is retryable, one message is posted', async () => {
    discord.script(discordServerError(), discordServerError(), discordServerError());
    const chat = notifier();
    for (let i = 0; i < 3; i++) {
      const error = await chat.post('billing', message).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(PermanentDeliveryError);
    }
    await chat.post('billing', message);
    expect(discord.requests).toHaveLength(4);
    expect(discord.posted).toHaveLength(1);
  });

  it('400 on the billing webhook: recorded failed at once, ops alerted, not retried', async () => {
    const { accountId } = await seedAccount();
    discord.script(discordBadRequest());
    const outcome = await activitiesWith().notifyDiscord({
      accountId,
      channel: 'billing',
      idempotencyKey: `k:${accountId}:billing`,
      title: 'Final warning: backups blocked',
      state: 'final_warning',
      workflowId: `billing-enforcement:${accountId}`,
    });
    expect(outcome).toBe('failed');
    const rows = await notificationsOf(accountId);
    expect(rows.map((r) => [r.channel, r.status, r.attempts])).toEqual([
      ['discord_billing', 'failed', 1],
      ['discord_ops', 'sent', 1],
    ]);
    expect(rows[0]!.error).toContain('400');
    expect(discord.posted.map((p) => p.webhookId)).toEqual([OPS_ID]);
    expect(discord.posted[0]!.body.embeds![0]!.title).toBe(
      'Notification failed: Final warning: backups blocked',
    );
    // A retry of the activity does not post again.
    await activitiesWith().notifyDiscord({
      accountId,
      channel: 'billing',
      idempotencyKey: `k:${accountId}:billing`,
      title: 'Final warning: backups blocked',
    });
    expect(discord.requests).toHaveLength(2);
  });
});
