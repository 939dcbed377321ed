// The ladder's activities, one module per concern, composed here by one factory. Activities run
// at least once: every one is idempotent, keyed by the workflow's own ids. Clients come in
// through the factory, so tests pass real or local dependencies, and the rate limiters one
// process creates are shared by every activity.
//
// The workflow knows these activities only by name and signature (and recorded histories by
// name): rename or reshape one and running ladders break.
import { type PrismaClient } from '../platform/database.js';
import { type Logger } from '../platform/logger.js';
import { type ChatNotifier, type EmailSender } from '../adapters/ports/notifications.js';
import { type ServerControl } from '../adapters/ports/server-control.js';
import { createAuditHelpers } from './audit-writer.js';
import { createChatMessageBuilder } from './chat-message.js';
import { createDiscordDigest } from './discord-digest.js';
import { circuitBreakerActivities } from './circuit-breaker.js';
import { createEnforcing } from './enforcing.js';
import { transitionActivities } from './transitions.js';
import { createNotificationLedger } from './notification-ledger.js';
import { notificationActivities } from './send-notifications.js';
import { restoreAccessActivity } from './restore-access.js';
import { serverActivities } from './servers.js';

export { AccountNotFoundError } from './errors.js';
export { redactEmailAddresses, type DiscordInput } from './chat-message.js';
export { type TransitionInput, type AuditInput } from './transitions.js';
export { type EmailInput } from './send-notifications.js';
export { type RestoreAccessInput, type RestoreAccessResult } from './restore-access.js';
export { type NotificationOutcome } from './notification-ledger.js';

export interface ActivityDeps {
  db: PrismaClient;
  email: EmailSender;
  chat: ChatNotifier;
  servers: ServerControl;
  logger: Logger;
  temporalUiUrl: string;
  temporalNamespace: string;
  portalUrl: string;
}

export function createActivities(deps: ActivityDeps) {
  const audit = createAuditHelpers(deps.db);
  const chatMessage = createChatMessageBuilder(deps);
  const ledger = createNotificationLedger(deps, chatMessage);
  const enforcing = createEnforcing(ledger.alertOps, deps.logger);
  const digest = createDiscordDigest({
    db: deps.db,
    chat: deps.chat,
    sentStatus: deps.chat.kind === 'recording' ? 'logged' : 'sent',
  });
  const transitions = transitionActivities(deps, { audit, enforcing });
  const servers = serverActivities(deps, { audit, enforcing });
  return {
    ...transitions,
    ...notificationActivities(deps, { audit, ledger, chatMessage, digest }),
    ...servers,
    ...restoreAccessActivity({ ...transitions, ...servers }),
    ...circuitBreakerActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
