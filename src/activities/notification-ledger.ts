// The notification ledger: one Notification row per idempotency key; a key already sent is
// never sent again. Failures are retried by Temporal up to NOTIFICATION_MAX_ATTEMPTS, then
// recorded failed and alerted — the ladder goes on (notifications fail soft). Ops alerts go
// through the same ledger, so an alert raised twice is posted once.
import { ApplicationFailure } from '@temporalio/activity';
import { NOTIFICATION_MAX_ATTEMPTS } from '../workflows/definitions.js';
import { type PrismaClient, isUniqueViolation } from '../platform/database.js';
import { type Logger } from '../platform/logger.js';
import { notificationOutcomes } from '../platform/observability/metrics.js';
import { PermanentDeliveryError, type ChatNotifier } from '../adapters/ports/notifications.js';
import { attempt } from './attempt.js';
import { alertsOnFailure, isLastAttempt, retryDelayMs, stepFor } from './ledger-decisions.js';
import { redactEmailAddresses, type ChatMessageBuilder } from './chat-message.js';
import { PostedNotRecordedError } from './discord-digest.js';

export type NotificationOutcome =
  | 'sent'
  | 'logged'
  | 'already_sent'
  | 'failed'
  | 'skipped_dry_run'
  /** A worker stopped mid-request to a provider that cannot deduplicate: not sent again. */
  | 'unconfirmed';

export type LedgerChannel = 'email' | 'discord_billing' | 'discord_ops';

/** The ledger row a notification is known by, in alerts about it. */
interface LedgerRef {
  accountId: string | null;
  channel: string;
  template: string;
  idempotencyKey: string;
}

export interface OpsAlertInput {
  accountId: string | null;
  idempotencyKey: string;
  title: string;
  detail: string;
  workflowId?: string;
}

/** Counts a finished notification (retries in between are not outcomes). */
export const counted =
  (channel: LedgerChannel) =>
  (outcome: NotificationOutcome): NotificationOutcome => {
    notificationOutcomes.inc({ channel, outcome });
    return outcome;
  };

export function createNotificationLedger(
  deps: { db: PrismaClient; logger: Logger; chat: ChatNotifier },
  chatMessage: ChatMessageBuilder,
) {
  const { db, logger } = deps;

  async function deliver(
    ledger: LedgerRef & { channel: LedgerChannel; subject: string },
    /**
     * Sends it. A provider that cannot deduplicate (a Discord webhook) calls `markSending` right
     * before its request; one that can (Resend's Idempotency-Key) does not need to.
     */
    send: (
      markSending: () => Promise<void>,
      rowId: string,
    ) => Promise<{ providerMessageId: string | null; recorded?: boolean }>,
    recording: boolean,
    workflowId?: string,
  ): Promise<NotificationOutcome> {
    let row = await db.notification.findUnique({ where: { idempotencyKey: ledger.idempotencyKey } });
    if (!row) {
      try {
        row = await db.notification.create({ data: { ...ledger, status: 'pending' } });
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        row = await db.notification.findUniqueOrThrow({ where: { idempotencyKey: ledger.idempotencyKey } });
      }
    }
    switch (stepFor(row)) {
      case 'already_sent':
        return 'already_sent';
      case 'unconfirmed':
        return 'unconfirmed';
      case 'mark_unconfirmed':
        return unconfirmed(row.id, ledger, workflowId);
      case 'alert_failed':
        // A retry after the ops alert itself could not go out: it is keyed, so at most once.
        await alertFailedNotification(ledger, row.error ?? 'unknown error', row.attempts, workflowId);
        return 'failed';
      case 'send':
        break;
    }
    const rowId = row.id;
    try {
      const { providerMessageId, recorded } = await send(async () => {
        await db.notification.update({ where: { id: rowId }, data: { sendingAt: new Date() } });
      }, rowId);
      // A digest records all the rows of its message in one statement.
      if (recorded) return recording ? 'logged' : 'sent';
      await db.notification.update({
        where: { id: row.id },
        data: {
          status: recording ? 'logged' : 'sent',
          providerMessageId,
          sentAt: new Date(),
          sendingAt: null,
          attempts: { increment: 1 },
          error: null,
        },
      });
      return recording ? 'logged' : 'sent';
    } catch (error) {
      // The post is out; its mark must stay so that no attempt posts it again.
      if (error instanceof PostedNotRecordedError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      const permanent = error instanceof PermanentDeliveryError;
      const lastAttempt = isLastAttempt(error, attempt(), NOTIFICATION_MAX_ATTEMPTS);
      await db.notification.update({
        where: { id: row.id },
        data: {
          attempts: { increment: 1 },
          error: message.slice(0, 1000),
          // The provider answered (or the request never left): nothing is in doubt.
          sendingAt: null,
          ...(lastAttempt ? { status: 'failed' } : {}),
        },
      });
      if (!lastAttempt) {
        const nextRetryDelay = retryDelayMs(error);
        if (nextRetryDelay !== undefined) {
          throw ApplicationFailure.create({ type: 'RateLimitedError', message, nextRetryDelay });
        }
        throw error;
      }
      logger.error(
        {
          idempotencyKey: ledger.idempotencyKey,
          channel: ledger.channel,
          err: redactEmailAddresses(message),
          permanent,
        },
        'notification failed for good',
      );
      await alertFailedNotification(ledger, message, attempt(), workflowId);
      return 'failed';
    }
  }

  /**
   * An earlier attempt stopped between its request and the answer (the worker died): Discord may
   * show the post or not, and a webhook cannot be asked which. Posting again could post twice,
   * so it is recorded as unconfirmed and ops are told instead (once: the alert is keyed).
   */
  async function unconfirmed(
    rowId: string,
    ledger: LedgerRef,
    workflowId?: string,
  ): Promise<NotificationOutcome> {
    const why = 'the worker stopped while sending it; not sent again, so that it cannot arrive twice';
    await db.notification.update({ where: { id: rowId }, data: { status: 'unconfirmed', error: why } });
    logger.warn(
      { idempotencyKey: ledger.idempotencyKey, channel: ledger.channel },
      'notification unconfirmed: the worker stopped while sending it',
    );
    if (alertsOnFailure(ledger.channel)) {
      await alertOps({
        accountId: ledger.accountId,
        idempotencyKey: `${ledger.idempotencyKey}:unconfirmed`,
        title: `Notification unconfirmed: ${ledger.template}`,
        detail: `${ledger.channel}: ${why}. Check the channel; it may be missing.`,
        ...(workflowId ? { workflowId } : {}),
      });
    }
    return 'unconfirmed';
  }

  async function alertFailedNotification(
    ledger: LedgerRef,
    message: string,
    attempts: number,
    workflowId?: string,
  ) {
    if (!alertsOnFailure(ledger.channel)) return;
    await alertOps({
      accountId: ledger.accountId,
      idempotencyKey: `${ledger.idempotencyKey}:failed`,
      title: `Notification failed: ${ledger.template}`,
      detail: `${ledger.channel} delivery failed after ${attempts} attempt(s): ${message.slice(0, 300)}`,
      ...(workflowId ? { workflowId } : {}),
    });
  }

  async function alertOps(input: OpsAlertInput): Promise<NotificationOutcome> {
    const message = await chatMessage({ ...input, channel: 'ops' });
    return deliver(
      {
        accountId: input.accountId,
        channel: 'discord_ops',
        template: 'ops_alert',
        idempotencyKey: input.idempotencyKey,
        subject: input.title,
      },
      (markSending) => deps.chat.post('ops', message, { beforeRequest: markSending }),
      deps.chat.kind === 'recording',
    ).then(counted('discord_ops'));
  }

  return { deliver, alertOps };
}

export type NotificationLedger = ReturnType<typeof createNotificationLedger>;
