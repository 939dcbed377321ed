import { type Config } from '../config/env.js';
import { type PrismaClient } from '../db/client.js';
import { type Logger } from '../logger.js';
import { createDiscordChatNotifier } from '../adapters/discord/chat.js';
import { createRecordingChatNotifier } from '../adapters/recording/chat.js';
import { createRecordingEmailSender } from '../adapters/recording/email.js';
import { createRecordingServerControl } from '../adapters/recording/server-control.js';
import { createResendEmailSender } from '../adapters/resend/email.js';
import { type ActivityDeps } from './index.js';

/** Real adapters where credentials are configured; recording ones otherwise (local development). */
export function activityDepsFromConfig(config: Config, db: PrismaClient, logger: Logger): ActivityDeps {
  const { env } = config;
  const email = env.RESEND_API_KEY
    ? createResendEmailSender({
        apiKey: env.RESEND_API_KEY,
        from: env.EMAIL_FROM,
        replyTo: env.EMAIL_REPLY_TO,
      })
    : createRecordingEmailSender(logger);
  const chat =
    env.DISCORD_BILLING_WEBHOOK_URL || env.DISCORD_OPS_WEBHOOK_URL
      ? createDiscordChatNotifier({
          billing: env.DISCORD_BILLING_WEBHOOK_URL,
          ops: env.DISCORD_OPS_WEBHOOK_URL,
        })
      : createRecordingChatNotifier(logger);
  return {
    db,
    email,
    chat,
    servers: createRecordingServerControl(db),
    logger,
    temporalUiUrl: env.TEMPORAL_UI_URL,
    temporalNamespace: env.TEMPORAL_NAMESPACE,
    portalUrl: env.PORTAL_URL,
  };
}

export function describeAdapters(deps: ActivityDeps): string {
  return `email=${deps.email.kind} discord=${deps.chat.kind} servers=${deps.servers.kind}`;
}

/**
 * Every adapter a recording one (local runs, the demo, tests): the recorders keep what was sent,
 * posted and switched, next to the Notification ledger and Server table.
 */
export function recordingActivityDeps(
  db: PrismaClient,
  logger: Logger,
  links: Pick<ActivityDeps, 'temporalUiUrl' | 'temporalNamespace' | 'portalUrl'>,
) {
  return {
    db,
    email: createRecordingEmailSender(logger),
    chat: createRecordingChatNotifier(logger),
    servers: createRecordingServerControl(db),
    logger,
    ...links,
  };
}
