import fs from 'node:fs';
import { type Config } from '../platform/config.js';
import { type PrismaClient } from '../platform/database.js';
import { type Logger } from '../platform/logger.js';
import { createDiscordChatNotifier } from '../adapters/discord/chat.js';
import { createProxmoxClient } from '../adapters/proxmox/client.js';
import { createProxmoxServerControl } from '../adapters/proxmox/server-control.js';
import { createRateLimiter } from '../adapters/rate-limit.js';
import { createRecordingChatNotifier } from '../adapters/recording/chat.js';
import { createRecordingEmailSender } from '../adapters/recording/email.js';
import { createRecordingServerControl } from '../adapters/recording/server-control.js';
import { createResendEmailSender } from '../adapters/resend/email.js';
import { type ActivityDeps } from './index.js';

/**
 * Real adapters where credentials are configured; recording ones otherwise (local development).
 * Called once per process, so the rate limiters it creates are shared by every activity.
 */
export function activityDepsFromConfig(config: Config, db: PrismaClient, logger: Logger): ActivityDeps {
  const { env } = config;
  const email = env.RESEND_API_KEY
    ? createResendEmailSender({
        apiKey: env.RESEND_API_KEY,
        from: env.EMAIL_FROM,
        replyTo: env.EMAIL_REPLY_TO,
        limiter: createRateLimiter({ perSecond: env.EMAIL_RATE_PER_SECOND }),
        logger,
      })
    : createRecordingEmailSender(logger);
  const chat =
    env.DISCORD_BILLING_WEBHOOK_URL || env.DISCORD_OPS_WEBHOOK_URL
      ? createDiscordChatNotifier({
          billing: env.DISCORD_BILLING_WEBHOOK_URL,
          ops: env.DISCORD_OPS_WEBHOOK_URL,
          perSecond: env.DISCORD_RATE_PER_SECOND,
        })
      : createRecordingChatNotifier(logger);
  const servers =
    env.SERVER_CONTROL === 'proxmox'
      ? createProxmoxServerControl({
          // The schema requires these three when SERVER_CONTROL=proxmox.
          client: createProxmoxClient({
            apiUrl: env.PROXMOX_API_URL!,
            tokenId: env.PROXMOX_TOKEN_ID!,
            tokenSecret: env.PROXMOX_TOKEN_SECRET!,
            ...(env.PROXMOX_CA_PATH ? { ca: fs.readFileSync(env.PROXMOX_CA_PATH) } : {}),
            insecure: env.PROXMOX_TLS_INSECURE,
            logger,
          }),
          logger,
        })
      : createRecordingServerControl(db);
  if (!config.policy.dryRun) {
    const recording = [email, chat, servers].filter((a) => a.kind === 'recording').length;
    // Enforcing with a recording adapter means customers are not emailed or servers not
    // stopped, while the ladder says they were: legitimate for a staging run, never unnoticed.
    if (recording)
      logger.warn(
        { adapters: describeAdapters({ email, chat, servers }) },
        'ENFORCEMENT_MODE=enforce with recording adapters: those actions are only recorded',
      );
  }
  return {
    db,
    email,
    chat,
    servers,
    logger,
    temporalUiUrl: env.TEMPORAL_UI_URL,
    temporalNamespace: env.TEMPORAL_NAMESPACE,
    portalUrl: env.PORTAL_URL,
  };
}

const ADAPTER_NOTES: Record<string, string> = {
  'email:recording': 'no RESEND_API_KEY, emails are recorded in the Notification table (status "logged")',
  'email:resend': 'sent through Resend',
  'discord:recording': 'no webhook URLs, alerts are printed and recorded',
  'discord:discord': 'posted to the Discord webhooks',
  'servers:recording': 'SERVER_CONTROL=recording, power states kept in the Server table, no hypervisor',
  'servers:proxmox': 'Proxmox VE API',
};

/** One line per adapter, saying which is in use and, for a recording one, why. */
export function describeAdapters(deps: Pick<ActivityDeps, 'email' | 'chat' | 'servers'>): string {
  return [
    ['email', deps.email.kind],
    ['discord', deps.chat.kind],
    ['servers', deps.servers.kind],
  ]
    .map(([what, kind]) => `${what}=${kind} (${ADAPTER_NOTES[`${what}:${kind}`] ?? kind})`)
    .join('; ');
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
