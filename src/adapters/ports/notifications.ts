// Ports for what the ladder tells people. Adapters: recording (local development: the message is
// kept in the Notification ledger with status `logged`) and the real Resend / Discord ones.

export interface EmailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Sent as Resend's Idempotency-Key: a retried send within 24 h is not delivered twice. */
  idempotencyKey: string;
}

export interface EmailSender {
  readonly kind: 'recording' | 'resend';
  send(message: EmailMessage): Promise<{ providerMessageId: string | null }>;
}

export type ChatChannel = 'billing' | 'ops';

export interface ChatMessage {
  title: string;
  description: string;
  fields: { name: string; value: string }[];
  color: number;
  url?: string;
}

export interface ChatNotifier {
  readonly kind: 'recording' | 'discord';
  post(
    channel: ChatChannel,
    message: ChatMessage,
    options?: {
      /**
       * Awaited right before the request that delivers it (after any rate-limit wait): from then
       * on, until the answer, the message may have arrived without us knowing.
       */
      beforeRequest?: () => Promise<void>;
    },
  ): Promise<{ providerMessageId: string | null }>;
  /**
   * Several messages as one (Discord: one message of up to 10 embeds, 6,000 characters of embed
   * text in all), for the billing channel's digests. Adapters without it post one by one.
   */
  postMany?(
    channel: ChatChannel,
    messages: ChatMessage[],
    options?: { beforeRequest?: () => Promise<void> },
  ): Promise<{ providerMessageId: string | null }>;
}

/** What Discord takes in one message: at most 10 embeds... */
export const MAX_EMBEDS_PER_MESSAGE = 10;
/** ...whose titles, descriptions, field names and values come to at most 6,000 characters. */
export const MAX_EMBED_TEXT_PER_MESSAGE = 6000;

/** A provider said no for good (4xx other than 429): retrying cannot help. */
export class PermanentDeliveryError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'PermanentDeliveryError';
  }
}

/**
 * A provider (or our own bucket) asked us to come back later. Not a failure of the message: the
 * activity retries after `retryAfterMs` (Temporal's next retry delay), counted as an attempt.
 */
export class RateLimitedError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
    this.name = 'RateLimitedError';
  }
}
