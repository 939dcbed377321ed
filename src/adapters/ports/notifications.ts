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
}

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
