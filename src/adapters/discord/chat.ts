import { DiscordAPIError, EmbedBuilder, RateLimitError, WebhookClient } from 'discord.js';
import {
  MAX_EMBED_TEXT_PER_MESSAGE,
  MAX_EMBEDS_PER_MESSAGE,
  PermanentDeliveryError,
  RateLimitedError,
  type ChatChannel,
  type ChatMessage,
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
    // Discord counts about 30 messages in any minute per channel. No burst on top of the rate
    // (a herd's first minute would exceed it), and 5 % under it: a request leaves a database
    // round trip after its token (the in-flight mark), and at exactly the rate that jitter put
    // every other request of a herd over a strict sliding minute (measured: 163 of 364 refused).
    limiter: createRateLimiter({ perSecond: (options.perSecond ?? 0.5) * 0.95, burst: 1 }),
  });
  if (options.billing) clients.billing = open(options.billing);
  // One URL for both channels shares one client, so its rate limit is counted once.
  if (options.ops) clients.ops = options.ops === options.billing ? clients.billing : open(options.ops);
  const targetFor = (channel: ChatChannel) => {
    const target = clients[channel] ?? clients.billing ?? clients.ops;
    if (!target) throw new PermanentDeliveryError(`no Discord webhook configured for the ${channel} channel`);
    return target;
  };
  /** One request, whatever it carries: one token of the webhook's bucket. */
  async function send(
    channel: ChatChannel,
    messages: ChatMessage[],
    beforeRequest: (() => Promise<void>) | undefined,
  ) {
    const target = targetFor(channel);
    const embeds = messages.map(embedFor);
    await target.limiter.take();
    await beforeRequest?.();
    try {
      const sent = await target.client.send({ embeds });
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
  }
  return {
    kind: 'discord',
    post: (channel, message, postOptions) => send(channel, [message], postOptions?.beforeRequest),
    async postMany(channel, messages, postOptions) {
      // Discord would answer 400 for the whole message: refused here, before a token is spent.
      const text = messages.reduce((n, m) => n + embedTextLength(m), 0);
      if (
        messages.length === 0 ||
        messages.length > MAX_EMBEDS_PER_MESSAGE ||
        text > MAX_EMBED_TEXT_PER_MESSAGE
      )
        throw new PermanentDeliveryError(
          `a Discord message takes 1 to ${MAX_EMBEDS_PER_MESSAGE} embeds of at most ${MAX_EMBED_TEXT_PER_MESSAGE} characters in all (got ${messages.length}, ${text})`,
        );
      return send(channel, messages, postOptions?.beforeRequest);
    },
  };
}

const LIMITS = { title: 256, description: 4000, fields: 25, name: 256, value: 1024 } as const;

function embedFor(message: ChatMessage): EmbedBuilder {
  const embed = new EmbedBuilder()
    .setTitle(message.title.slice(0, LIMITS.title))
    .setColor(message.color)
    .setTimestamp(new Date());
  if (message.description) embed.setDescription(message.description.slice(0, LIMITS.description));
  if (message.url) embed.setURL(message.url);
  if (message.fields.length)
    embed.addFields(
      message.fields.slice(0, LIMITS.fields).map((f) => ({
        name: f.name.slice(0, LIMITS.name),
        value: f.value.slice(0, LIMITS.value),
        inline: true,
      })),
    );
  return embed;
}

/** The characters a message's embed counts against Discord's 6,000 per message, as posted. */
export function embedTextLength(message: ChatMessage): number {
  return (
    Math.min(message.title.length, LIMITS.title) +
    Math.min(message.description.length, LIMITS.description) +
    message.fields
      .slice(0, LIMITS.fields)
      .reduce((n, f) => n + Math.min(f.name.length, LIMITS.name) + Math.min(f.value.length, LIMITS.value), 0)
  );
}
