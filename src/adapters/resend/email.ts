import { Resend } from 'resend';
import { PermanentDeliveryError, type EmailSender } from '../../ports/notifications.js';

/**
 * Customer email through the Resend SDK. The idempotency key goes out as Resend's
 * Idempotency-Key, so a send retried after a crash is not delivered twice (24 h window).
 */
export function createResendEmailSender(options: {
  apiKey: string;
  from: string;
  replyTo?: string;
}): EmailSender {
  const resend = new Resend(options.apiKey);
  return {
    kind: 'resend',
    async send(message) {
      const { data, error } = await resend.emails.send(
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
      if (error) {
        const status = (error as { statusCode?: number | null }).statusCode ?? undefined;
        // 429 and 5xx are worth retrying; any other 4xx will not get better.
        if (status !== undefined && status >= 400 && status < 500 && status !== 429) {
          throw new PermanentDeliveryError(`resend rejected the email (${status}): ${error.message}`, status);
        }
        throw new Error(`resend failed${status ? ` (${status})` : ''}: ${error.message}`);
      }
      return { providerMessageId: data?.id ?? null };
    },
  };
}
