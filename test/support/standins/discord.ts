// Stands in for Discord's webhook endpoint (POST /api/v10/webhooks/:id/:token?wait=true) as
// discord.js's REST client calls it; answers with a message object like Discord's.
import { randomInt } from 'node:crypto';
import { startStandin, type Reply, type Standin } from './http.js';

export interface PostedMessage {
  webhookId: string;
  body: { content?: string; embeds?: DiscordEmbed[]; allowed_mentions?: unknown };
}

export interface DiscordEmbed {
  title?: string;
  description?: string;
  url?: string;
  color?: number;
  fields?: { name: string; value: string; inline?: boolean }[];
}

export interface DiscordStandin extends Standin {
  /** The base URL to give discord.js (`rest.api`). */
  api: string;
  posted: PostedMessage[];
  /** A webhook URL of the shape discord.js parses; its requests go to the stand-in via `api`. */
  webhookUrl(id: string): string;
}

export const discordRateLimited = (retryAfterSeconds: number): Reply => ({
  status: 429,
  headers: { 'retry-after': String(retryAfterSeconds) },
  body: { message: 'You are being rate limited.', retry_after: retryAfterSeconds, global: false },
});
export const discordServerError = (): Reply => ({
  status: 500,
  body: { message: '500: Internal Server Error', code: 0 },
});
export const discordBadRequest = (): Reply => ({
  status: 400,
  body: { message: 'Invalid Form Body', code: 50035, errors: { embeds: { _errors: [] } } },
});

export const TOKEN = 'T'.repeat(68);

/** Discord's answer to a message it will not take (the shape of its form-body errors). */
const invalidEmbeds = (code: string, message: string): Reply => ({
  status: 400,
  body: { message: 'Invalid Form Body', code: 50035, errors: { embeds: { _errors: [{ code, message }] } } },
});

/** The embed text Discord counts against its 6,000 characters per message. */
export function embedText(embed: DiscordEmbed & { footer?: { text?: string }; author?: { name?: string } }) {
  return (
    (embed.title?.length ?? 0) +
    (embed.description?.length ?? 0) +
    (embed.footer?.text?.length ?? 0) +
    (embed.author?.name?.length ?? 0) +
    (embed.fields ?? []).reduce((n, f) => n + f.name.length + f.value.length, 0)
  );
}

export interface DiscordStandinOptions {
  /**
   * Discord's per-channel limit (about 30 messages a minute): a message beyond `messages` within
   * the last `perMs` is answered 429 with Retry-After, as Discord does. Off unless given.
   */
  rateLimit?: { messages: number; perMs: number };
}

export async function startDiscordStandin(options: DiscordStandinOptions = {}): Promise<DiscordStandin> {
  const posted: PostedMessage[] = [];
  const accepted = new Map<string, number[]>();
  const standin = await startStandin((req) => {
    const match = /^\/api\/v10\/webhooks\/(\d+)\/([\w-]+)$/.exec(req.path);
    if (req.method !== 'POST' || !match) return { status: 404, body: { message: '404: Not Found', code: 0 } };
    if (match[2] !== TOKEN) return { status: 401, body: { message: 'Invalid Webhook Token', code: 50027 } };
    const body = JSON.parse(req.body) as PostedMessage['body'];
    // Discord's own limits on a message: 10 embeds, 6,000 characters of embed text in all.
    const embeds = body.embeds ?? [];
    if (embeds.length > 10) return invalidEmbeds('BASE_TYPE_MAX_LENGTH', 'Must be 10 or fewer in length.');
    if (embeds.reduce((n, e) => n + embedText(e), 0) > 6000)
      return invalidEmbeds('MAX_EMBED_SIZE_EXCEEDED', 'Embed size exceeds maximum size of 6000');
    if (options.rateLimit) {
      const now = Date.now();
      const { messages, perMs } = options.rateLimit;
      const recent = (accepted.get(match[1]!) ?? []).filter((at) => at > now - perMs);
      accepted.set(match[1]!, recent);
      if (recent.length >= messages) return discordRateLimited((recent[0]! + perMs - now) / 1000);
      recent.push(now);
    }
    posted.push({ webhookId: match[1]!, body });
    return {
      status: 200,
      body: {
        id: String(BigInt(Date.now()) * 4_194_304n + BigInt(randomInt(1_000_000))),
        type: 0,
        channel_id: '1000000000000000001',
        webhook_id: match[1],
        content: body.content ?? '',
        embeds: body.embeds ?? [],
        attachments: [],
        mentions: [],
        mention_roles: [],
        pinned: false,
        mention_everyone: false,
        tts: false,
        timestamp: new Date().toISOString(),
        edited_timestamp: null,
        flags: 0,
        components: [],
        author: { id: match[1], username: 'billing', discriminator: '0000', avatar: null, bot: true },
      },
    };
  });
  return Object.assign(standin, {
    api: `${standin.url}/api`,
    posted,
    webhookUrl: (id: string) => `https://discord.com/api/webhooks/${id}/${TOKEN}`,
  });
}
