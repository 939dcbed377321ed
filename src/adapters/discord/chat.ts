import { DiscordAPIError, EmbedBuilder, RateLimitError, WebhookClient } from 'discord.js';
import {
  PermanentDeliveryError,
  RateLimitedError,
  type ChatChannel,
  type ChatNotifier,
} from '../ports/notifications.js';
import { createRateLimiter, type RateLimiter } from '../rate-limit.js';

export interface DiscordChatOptions {
  billing?: string;
  ops?: string;
  /** Discord allows about 30 messages a minute per webhook; the bucket is per webhook. */
  perSecond?: number;
  /** Tests point discord.js's REST client at a local stand-in (default https://discord.com/api). */
  apiBaseUrl?: string;
  /**
   * A 429 asking for at most this long is waited out by discord.js itself; longer ones go back
   * to Temporal as the next retry delay.
   */
  maxRateLimitWaitMs?: number;
}

/** Internal alerts through discord.js webhooks: one for the billing channel, one for ops. */
export function createDiscordChatNotifier(options: DiscordChatOptions): ChatNotifier {
  const maxWaitMs = options.maxRateLimitWaitMs ?? 10_000;
  const clients: Partial<Record<ChatChannel, { client: WebhookClient; limiter: RateLimiter }>> = {};
  const open = (url: string) => ({
    client: new WebhookClient(
      { url },
      {
        // Nobody gets pinged by an alert, whatever its text says.
        allowedMentions: { parse: [] },
        rest: {
          ...(options.apiBaseUrl ? { api: options.apiBaseUrl } : {}),
          // 5xx and network errors: Temporal retries the activity with backoff, visibly.
          retries: 0,
          // 429s are waited out by discord.js (Retry-After); a long wait is handed to Temporal.
          rejectOnRateLimit: (data) => Math.max(data.retryAfter, data.timeToReset) > maxWaitMs,
        },
      },
    ),
    limiter: createRateLimiter({ perSecond: options.perSecond ?? 0.5, burst: 5 }),
  });
  if (options.billing) clients.billing = open(options.billing);
  // One URL for both channels shares one client, so its rate limit is counted once.
  if (options.ops) clients.ops = options.ops === options.billing ? clients.billing : open(options.ops);
  return {
    kind: 'discord',
    async post(channel, message, postOptions) {
      const target = clients[channel] ?? clients.billing ?? clients.ops;
      if (!target)
        throw new PermanentDeliveryError(`no Discord webhook configured for the ${channel} channel`);
      const embed = new EmbedBuilder()
        .setTitle(message.title.slice(0, 256))
        .setColor(message.color)
        .setTimestamp(new Date());
      if (message.description) embed.setDescription(message.description.slice(0, 4000));
      if (message.url) embed.setURL(message.url);
      if (message.fields.length)
        embed.addFields(
          message.fields
            .slice(0, 25)
            .map((f) => ({ name: f.name.slice(0, 256), value: f.value.slice(0, 1024), inline: true })),
        );
      await target.limiter.take();
      await postOptions?.beforeRequest?.();
      try {
        const sent = await target.client.send({ embeds: [embed] });
        return { providerMessageId: sent.id };
      } catch (error) {
        if (error instanceof RateLimitError) {
          const retryAfterMs = Math.max(error.retryAfter, error.timeToReset);
          target.limiter.pauseFor(retryAfterMs);
          throw new RateLimitedError(`discord rate limit (429, ${error.route})`, retryAfterMs);
        }
        if (
          error instanceof DiscordAPIError &&
          error.status >= 400 &&
          error.status < 500 &&
          error.status !== 429
        ) {
          throw new PermanentDeliveryError(
            `discord rejected the alert (${error.status}): ${error.message}`,
            error.status,
          );
        }
        throw error;
      }
    },
  };
}
