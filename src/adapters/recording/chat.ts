import { type Logger } from '../../platform/logger.js';
import { type ChatChannel, type ChatMessage, type ChatNotifier } from '../ports/notifications.js';
import { keepRecent } from './recent.js';

/** Local development without Discord webhooks: alerts are printed and kept in the ledger. */
export function createRecordingChatNotifier(
  logger: Logger,
): ChatNotifier & { posted: { channel: ChatChannel; message: ChatMessage }[] } {
  const posted: { channel: ChatChannel; message: ChatMessage }[] = [];
  return {
    kind: 'recording',
    posted,
    post(channel, message) {
      keepRecent(posted, { channel, message });
      logger.info({ channel, title: message.title }, 'discord alert recorded (no webhook configured)');
      return Promise.resolve({ providerMessageId: null });
    },
  };
}
