// A worker left on the recording adapters (dry-run without credentials) runs for months: what
// they keep in memory for tests to inspect is bounded.
import { describe, expect, it } from 'vitest';
import { createRecordingChatNotifier } from '../../src/adapters/recording/chat.js';
import { createRecordingEmailSender } from '../../src/adapters/recording/email.js';
import { RECORDING_KEEP } from '../../src/adapters/recording/recent.js';
import { createLogger } from '../../src/platform/logger.js';

describe('recording adapters', () => {
  it('keep the most recent messages only', async () => {
    const logger = createLogger('silent');
    const email = createRecordingEmailSender(logger);
    const chat = createRecordingChatNotifier(logger);
    const total = RECORDING_KEEP + 5;
    for (let i = 0; i < total; i++) {
      await email.send({
        to: 'a@example.test',
        subject: `s${i}`,
        text: 't',
        html: 'h',
        idempotencyKey: `k${i}`,
      });
      await chat.post('billing', { title: `t${i}`, description: 'd', fields: [], color: 0 });
    }
    expect(email.sent).toHaveLength(RECORDING_KEEP);
    expect(email.sent[0]!.subject).toBe('s5');
    expect(email.sent.at(-1)!.subject).toBe(`s${total - 1}`);
    expect(chat.posted).toHaveLength(RECORDING_KEEP);
    expect(chat.posted[0]!.message.title).toBe('t5');
  });
});
