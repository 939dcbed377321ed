import { Resend } from 'resend';
import { type Logger } from '../../platform/logger.js';
import { PermanentDeliveryError, RateLimitedError, type EmailSender } from '../ports/notifications.js';
import { parseRetryAfter, type RateLimiter } from '../rate-limit.js';

/** Resend's answer to a key already in flight: the other request will finish, so try again. */
const RETRYABLE_CONFLICTS = new Set(['concurrent_idempotent_requests']);
const RATE_LIMIT_NAMES = new Set(['rate_limit_exceeded', 'daily_quota_exceeded', 'monthly_quota_exceeded']);

export interface ResendEmailOptions {
  apiKey: string;
  from: string;
  replyTo?: string;
  /** Tests point the SDK at a local stand-in; the SDK also reads RESEND_BASE_URL itself. */
  baseUrl?: string;
  limiter?: RateLimiter;
  logger?: Logger;
  /**
   * A 429 asking for at most this long is waited out here (Resend's per-second limit: about a
   * second); longer ones (quotas) go back to Temporal as the next retry delay.
   */
  maxRateLimitWaitMs?: number;
  /** 429s waited out here per send before handing over to Temporal. */
  maxRateLimitRetries?: number;
}

/**
 * Customer email through the Resend SDK. The idempotency key goes out as Resend's
 * Idempotency-Key, so a send retried after a crash is not delivered twice (24 h window).
 * 5xx and network errors are thrown as-is: Temporal retries the activity with backoff.
 */
export function createResendEmailSender(options: ResendEmailOptions): EmailSender {
  const resend = new Resend(options.apiKey, options.baseUrl ? { baseUrl: options.baseUrl } : undefined);
  const maxWaitMs = options.maxRateLimitWaitMs ?? 10_000;
  const maxRetries = options.maxRateLimitRetries ?? 3;
  return {
    kind: 'resend',
    async send(message) {
      for (let rateLimited = 0; ; rateLimited++) {
        await options.limiter?.take();
        const { data, error, headers } = await resend.emails.send(
          {
            from: options.from,
            to: message.to,
            subject: message.subject,
            text: message.text,
            html: message.html,
            ...(options.replyTo ? { replyTo: options.replyTo } : {}),
          },
          { idempotencyKey: message.idempotencyKey },
        );
        if (!error) return { providerMessageId: data?.id ?? null };

        // statusCode is null when the request never got an answer (network): worth retrying.
        const status = error.statusCode ?? (RATE_LIMIT_NAMES.has(error.name) ? 429 : null);
        if (status === 429) {
          const retryAfterMs = parseRetryAfter(headers?.['retry-after']) ?? 1000;
          options.limiter?.pauseFor(retryAfterMs);
          options.logger?.warn(
            { idempotencyKey: message.idempotencyKey, retryAfterMs, resendError: error.name },
            'resend rate limit (429)',
          );
          if (retryAfterMs > maxWaitMs || rateLimited >= maxRetries) {
            throw new RateLimitedError(`resend rate limit (429 ${error.name})`, retryAfterMs);
          }
          // The limiter is paused for everyone in this process; the next take() waits it out.
          if (!options.limiter) await new Promise((resolve) => setTimeout(resolve, retryAfterMs));
          continue;
        }
        if (
          typeof status === 'number' &&
          status >= 400 &&
          status < 500 &&
          !RETRYABLE_CONFLICTS.has(error.name)
        ) {
          throw new PermanentDeliveryError(
            `resend rejected the email (${status} ${error.name}): ${error.message}`,
            status,
          );
        }
        throw new Error(`resend failed${status ? ` (${status} ${error.name})` : ''}: ${error.message}`);
      }
    },
  };
}
