import { type Logger } from '../../platform/logger.js';
import { type EmailMessage, type EmailSender } from '../ports/notifications.js';
import { keepRecent } from './recent.js';

/** Local development without Resend credentials: the message stays in the ledger (`logged`). */
export function createRecordingEmailSender(logger: Logger): EmailSender & { sent: EmailMessage[] } {
  const sent: EmailMessage[] = [];
  return {
    kind: 'recording',
    sent,
    send(message) {
      keepRecent(sent, message);
      // The subject, never the address: no customer PII in logs.
      logger.info(
        { subject: message.subject, idempotencyKey: message.idempotencyKey },
        'email recorded (no Resend key)',
      );
      return Promise.resolve({ providerMessageId: null });
    },
  };
}
