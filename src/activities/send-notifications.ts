// The customer email and the Discord post of a rung, both through the notification ledger.
import { type PrismaClient } from '../platform/database.js';
import { renderEmail, type EmailTemplate } from '../notifications/email-templates.js';
import {
  PermanentDeliveryError,
  type ChatNotifier,
  type EmailSender,
} from '../adapters/ports/notifications.js';
import { type AuditHelpers } from './audit-writer.js';
import { amountOwed, type ChatMessageBuilder, type DiscordInput } from './chat-message.js';
import { counted, type NotificationLedger, type NotificationOutcome } from './notification-ledger.js';
import { type DiscordDigest } from './discord-digest.js';

export interface EmailInput {
  accountId: string;
  template: EmailTemplate;
  idempotencyKey: string;
  dryRun: boolean;
  nextActionAt: string | null;
  at: string;
  workflowId: string;
  runId: string;
}

export function notificationActivities(
  deps: { db: PrismaClient; email: EmailSender; chat: ChatNotifier; portalUrl: string },
  shared: {
    audit: AuditHelpers;
    ledger: NotificationLedger;
    chatMessage: ChatMessageBuilder;
    /** Billing-channel posts go out in digests; ops alerts stay messages of their own. */
    digest: DiscordDigest;
  },
) {
  const { db } = deps;
  const { audit, ledger, chatMessage, digest } = shared;

  return {
    async sendCustomerEmail(input: EmailInput): Promise<NotificationOutcome> {
      const account = await audit.requireAccount(input.accountId);
      if (input.dryRun) {
        await audit.recordWouldDo(input, 'would_send_email', input.idempotencyKey, {
          step: input.template,
          detail: { template: input.template },
        });
        return counted('email')('skipped_dry_run');
      }
      const owed = await amountOwed(db, input.accountId);
      const rendered = renderEmail(input.template, {
        accountName: account.name ?? 'there',
        amountDueCents: owed?.cents ?? null,
        currency: owed?.currency ?? null,
        hostedInvoiceUrl: owed?.hostedInvoiceUrl ?? null,
        portalUrl: deps.portalUrl,
        nextActionAt: input.nextActionAt ? new Date(input.nextActionAt) : null,
      });
      const to = account.email;
      return ledger
        .deliver(
          {
            accountId: input.accountId,
            channel: 'email',
            template: input.template,
            idempotencyKey: input.idempotencyKey,
            subject: rendered.subject,
          },
          () => {
            if (!to) throw new PermanentDeliveryError('the account has no email address');
            return deps.email.send({ to, ...rendered, idempotencyKey: input.idempotencyKey });
          },
          deps.email.kind === 'recording',
          input.workflowId,
        )
        .then(counted('email'));
    },

    async notifyDiscord(input: DiscordInput): Promise<NotificationOutcome> {
      const message = await chatMessage(input);
      return ledger
        .deliver(
          {
            accountId: input.accountId,
            channel: input.channel === 'ops' ? 'discord_ops' : 'discord_billing',
            template: input.title,
            idempotencyKey: input.idempotencyKey,
            subject: input.title,
          },
          (markSending, rowId) =>
            input.channel === 'billing' && deps.chat.postMany
              ? digest.submit(rowId, message).then((r) => ({ ...r, recorded: true }))
              : deps.chat.post(input.channel, message, { beforeRequest: markSending }),
          deps.chat.kind === 'recording',
          input.workflowId,
        )
        .then(counted(input.channel === 'ops' ? 'discord_ops' : 'discord_billing'));
    },
  };
}
