// Activities run at least once: every one is idempotent, keyed by the workflow's own ids.
// Clients come in through the factory (DESIGN.md §3), so tests pass real or local dependencies.
import { ApplicationFailure, Context } from '@temporalio/activity';
import {
  ENFORCEMENT_ALERT_AFTER_ATTEMPTS,
  NOTIFICATION_MAX_ATTEMPTS,
  type BillingState,
} from '../workflows/definitions.js';
import { type Prisma, type PrismaClient, isUniqueViolation } from '../db/client.js';
import { type Logger } from '../logger.js';
import { formatAmount, renderEmail, type EmailTemplate } from '../notifications/email-templates.js';
import { ladderTransitions, notificationOutcomes } from '../observability/metrics.js';
import {
  PermanentDeliveryError,
  RateLimitedError,
  type ChatChannel,
  type ChatMessage,
  type ChatNotifier,
  type EmailSender,
} from '../ports/notifications.js';
import { type ServerControl } from '../ports/server-control.js';
import { allowedFrom, stateColumns } from '../workflows/ladder.js';
import { AccountNotFoundError } from './errors.js';

export { AccountNotFoundError };

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

export interface TransitionInput {
  accountId: string;
  workflowId: string;
  runId: string;
  /** Unique within the run, e.g. "3:final_warning". */
  step: string;
  to: BillingState;
  /** Workflow time of the transition (ISO). */
  at: string;
  dryRun: boolean;
  actor?: string;
  reason?: string;
  detail?: Record<string, unknown>;
  retainUntil?: string;
}

export interface AuditInput {
  accountId: string;
  workflowId: string;
  runId: string;
  step: string;
  kind: string;
  at: string;
  actor: string;
  reason?: string;
  dryRun?: boolean;
  detail?: Record<string, unknown>;
}

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

export interface DiscordInput {
  accountId: string | null;
  channel: ChatChannel;
  idempotencyKey: string;
  title: string;
  state?: BillingState;
  nextActionAt?: string | null;
  detail?: string;
  dryRun?: boolean;
  workflowId?: string;
}

export type NotificationOutcome =
  | 'sent'
  | 'logged'
  | 'already_sent'
  | 'failed'
  | 'skipped_dry_run'
  /** A worker stopped mid-request to a provider that cannot deduplicate: not sent again. */
  | 'unconfirmed';

/** The ledger row a notification is known by, in alerts about it. */
interface LedgerRef {
  accountId: string | null;
  channel: string;
  template: string;
  idempotencyKey: string;
}

const EMAIL_ADDRESS = /[^\s@<>()"',;:]+@[^\s@<>()"',;:]+\.[^\s@<>()"',;:]+/g;

/** Discord is no place for customer email addresses, even inside a provider's error text. */
export function redactEmailAddresses(text: string): string {
  return text.replace(EMAIL_ADDRESS, '[email redacted]');
}

const COLORS: Record<BillingState | 'ops', number> = {
  active: 0x2ecc71,
  overdue: 0xf1c40f,
  final_warning: 0xe67e22,
  suspended: 0xe74c3c,
  retained: 0x8e44ad,
  ops: 0x3498db,
};

function attempt(): number {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1; // called outside an activity (tests calling the function directly)
  }
}

function heartbeat(details: unknown): void {
  try {
    Context.current().heartbeat(details);
  } catch {
    // not inside an activity
  }
}

/** Counts a finished notification (retries in between are not outcomes). */
const counted =
  (channel: 'email' | 'discord_billing' | 'discord_ops') =>
  (outcome: NotificationOutcome): NotificationOutcome => {
    notificationOutcomes.inc({ channel, outcome });
    return outcome;
  };

/** Counts a transition once: a retried activity finds its audit row and applies nothing. */
const countTransition =
  (rung: string, dryRun: boolean) =>
  (result: { applied: boolean }): { applied: boolean } => {
    if (result.applied) ladderTransitions.inc({ rung, dry_run: String(dryRun) });
    return result;
  };

export function createActivities(deps: ActivityDeps) {
  const { db, logger } = deps;

  const workflowLink = (workflowId: string) =>
    `${deps.temporalUiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(deps.temporalNamespace)}/workflows/${encodeURIComponent(workflowId)}`;

  /** Writes an audit row once per idempotency key; true when this call wrote it. */
  async function writeEventOnce(
    tx: Prisma.TransactionClient | PrismaClient,
    row: Prisma.BillingEnforcementEventUncheckedCreateInput,
  ): Promise<boolean> {
    const existing = await tx.billingEnforcementEvent.findUnique({
      where: { idempotencyKey: row.idempotencyKey },
      select: { id: true },
    });
    if (existing) return false;
    await tx.billingEnforcementEvent.create({ data: row });
    return true;
  }

  /** The audit idempotency key of one ladder step: (workflowId, runId, step). */
  const stepKey = (input: { workflowId: string; runId: string; step: string }): string =>
    `${input.workflowId}:${input.runId}:${input.step}`;

  /** Dry-run and exempt accounts: record what would have been done, once. */
  async function recordWouldDo(
    input: { accountId: string; workflowId: string; runId: string; at: string },
    kind: string,
    idempotencyKey: string,
    extra: { step?: string; detail?: Prisma.InputJsonValue } = {},
  ) {
    await writeEventOnce(db, {
      accountId: input.accountId,
      kind,
      actor: 'workflow',
      dryRun: true,
      idempotencyKey: `${idempotencyKey}:dry-run`,
      workflowId: input.workflowId,
      runId: input.runId,
      occurredAt: new Date(input.at),
      ...extra,
    });
  }

  async function requireAccount(accountId: string) {
    const account = await db.billingAccount.findUnique({ where: { id: accountId } });
    if (!account) throw new AccountNotFoundError(accountId);
    return account;
  }

  async function applyTransition(input: TransitionInput, kind: string): Promise<{ applied: boolean }> {
    await requireAccount(input.accountId);
    const at = new Date(input.at);
    const idempotencyKey = stepKey(input);
    return db.$transaction(async (tx) => {
      const wrote = await writeEventOnce(tx, {
        accountId: input.accountId,
        kind,
        step: input.step,
        actor: input.actor ?? 'workflow',
        reason: input.reason ?? null,
        dryRun: input.dryRun,
        detail: (input.detail ?? {}) as Prisma.InputJsonValue,
        idempotencyKey,
        workflowId: input.workflowId,
        runId: input.runId,
        occurredAt: at,
      });
      if (!wrote) return { applied: false };
      const from = allowedFrom(input.to);
      const updated = await tx.billingAccount.updateMany({
        where: { id: input.accountId, ...(from === 'any' ? {} : { state: { in: from } }) },
        data: {
          state: input.to,
          workflowId: input.workflowId,
          ...stateColumns(input.to, at, input.retainUntil),
        },
      });
      if (updated.count === 0) {
        logger.warn(
          { accountId: input.accountId, to: input.to, step: input.step },
          'account was not in an expected state for this transition',
        );
      }
      return { applied: true };
    });
  }

  /**
   * The notification ledger: one row per idempotency key; a key already sent is never sent
   * again. Failures are retried by Temporal up to NOTIFICATION_MAX_ATTEMPTS, then recorded
   * failed and alerted — the ladder goes on (notifications fail soft).
   */
  async function deliver(
    ledger: {
      accountId: string | null;
      channel: 'email' | 'discord_billing' | 'discord_ops';
      template: string;
      idempotencyKey: string;
      subject: string;
    },
    /**
     * Sends it. A provider that cannot deduplicate (a Discord webhook) calls `markSending` right
     * before its request; one that can (Resend's Idempotency-Key) does not need to.
     */
    send: (markSending: () => Promise<void>) => Promise<{ providerMessageId: string | null }>,
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
    if (row.status === 'sent' || row.status === 'logged') return 'already_sent';
    if (row.status === 'unconfirmed') return 'unconfirmed';
    if (row.sendingAt) return unconfirmed(row.id, ledger, workflowId);
    if (row.status === 'failed') {
      // A retry after the ops alert itself could not go out: it is keyed, so at most once.
      await alertFailedNotification(ledger, row.error ?? 'unknown error', row.attempts, workflowId);
      return 'failed';
    }
    const rowId = row.id;
    try {
      const { providerMessageId } = await send(async () => {
        await db.notification.update({ where: { id: rowId }, data: { sendingAt: new Date() } });
      });
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
      const message = error instanceof Error ? error.message : String(error);
      const permanent = error instanceof PermanentDeliveryError;
      const lastAttempt = permanent || attempt() >= NOTIFICATION_MAX_ATTEMPTS;
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
        if (error instanceof RateLimitedError) {
          // The provider said when to come back: that, not the policy's backoff, is the next try.
          throw ApplicationFailure.create({
            type: 'RateLimitedError',
            message,
            nextRetryDelay: Math.max(1, error.retryAfterMs),
          });
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
    if (ledger.channel !== 'discord_ops') {
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
    if (ledger.channel === 'discord_ops') return;
    await alertOps({
      accountId: ledger.accountId,
      idempotencyKey: `${ledger.idempotencyKey}:failed`,
      title: `Notification failed: ${ledger.template}`,
      detail: `${ledger.channel} delivery failed after ${attempts} attempt(s): ${message.slice(0, 300)}`,
      ...(workflowId ? { workflowId } : {}),
    });
  }

  /** What the account owes now: the open invoices in the currency of the latest one. */
  async function amountOwed(accountId: string) {
    const invoices = await db.invoice.findMany({
      where: { accountId, status: { in: ['open', 'uncollectible'] } },
      orderBy: { lastEventCreatedAt: 'desc' },
    });
    const latest = invoices[0];
    if (!latest) return null;
    const same = invoices.filter((i) => i.currency === latest.currency);
    return {
      cents: same.reduce((sum, i) => sum + i.amountDue, 0),
      currency: latest.currency,
      hostedInvoiceUrl: latest.hostedInvoiceUrl,
    };
  }

  /** Account state and amount due for the embed; never the customer's name or address. */
  async function accountFacts(accountId: string | null) {
    if (!accountId) return { state: undefined, owed: null };
    const account = await db.billingAccount.findUnique({ where: { id: accountId }, select: { state: true } });
    return { state: account?.state, owed: await amountOwed(accountId) };
  }

  async function chatMessage(input: DiscordInput): Promise<ChatMessage> {
    const facts = await accountFacts(input.accountId);
    const state = input.state ?? facts.state;
    const fields: { name: string; value: string }[] = [];
    if (input.accountId) fields.push({ name: 'Account', value: input.accountId });
    if (state) fields.push({ name: 'State', value: state });
    if (facts.owed)
      fields.push({ name: 'Amount due', value: formatAmount(facts.owed.cents, facts.owed.currency) });
    if (input.nextActionAt)
      fields.push({ name: 'Next action', value: new Date(input.nextActionAt).toISOString() });
    if (input.dryRun) fields.push({ name: 'Mode', value: 'dry-run (nothing was done to the customer)' });
    if (input.workflowId)
      fields.push({
        name: 'Workflow',
        value: `[open in the Temporal UI](${workflowLink(input.workflowId)})`,
      });
    return {
      title: redactEmailAddresses(input.title),
      description: redactEmailAddresses(input.detail ?? ''),
      fields: fields.map((f) => ({ name: f.name, value: redactEmailAddresses(f.value) })),
      color: input.channel === 'ops' ? COLORS.ops : COLORS[state ?? 'overdue'],
      ...(input.workflowId ? { url: workflowLink(input.workflowId) } : {}),
    };
  }

  async function alertOps(input: {
    accountId: string | null;
    idempotencyKey: string;
    title: string;
    detail: string;
    workflowId?: string;
  }) {
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

  /** Enforcement actions retry until they succeed; ops is told once when they keep failing. */
  async function enforcing<T>(
    what: string,
    input: { accountId: string; workflowId?: string },
    key: string,
    action: () => Promise<T>,
  ): Promise<T> {
    try {
      return await action();
    } catch (error) {
      if (error instanceof AccountNotFoundError) throw error;
      if (attempt() === ENFORCEMENT_ALERT_AFTER_ATTEMPTS) {
        const message = error instanceof Error ? error.message : String(error);
        await alertOps({
          accountId: input.accountId,
          ...(input.workflowId ? { workflowId: input.workflowId } : {}),
          idempotencyKey: `${key}:repeated-failure`,
          title: `Enforcement action keeps failing: ${what}`,
          detail: `Attempt ${attempt()} failed: ${message.slice(0, 300)}. Temporal keeps retrying with backoff.`,
        }).catch((alertError: unknown) => logger.error({ err: String(alertError) }, 'could not alert ops'));
      }
      throw error;
    }
  }

  return {
    async loadAccountFlags(input: { accountId: string }): Promise<{ exempt: boolean; disputed: boolean }> {
      const account = await requireAccount(input.accountId);
      return { exempt: account.enforcementExempt, disputed: account.disputed };
    },

    async recordTransition(input: TransitionInput): Promise<{ applied: boolean }> {
      return enforcing('record transition', input, stepKey(input), () =>
        applyTransition(input, `transition:${input.to}`),
      ).then(countTransition(input.to, input.dryRun));
    },

    async markRetained(input: TransitionInput & { retainUntil: string }): Promise<{ applied: boolean }> {
      return enforcing('mark retained', input, stepKey(input), () =>
        applyTransition({ ...input, to: 'retained' }, 'transition:retained'),
      ).then(countTransition('retained', input.dryRun));
    },

    async flagDeletionReview(input: AuditInput & { dueAt: string }): Promise<{ applied: boolean }> {
      return enforcing('flag deletion review', input, stepKey(input), async () => {
        await requireAccount(input.accountId);
        return db.$transaction(async (tx) => {
          const wrote = await writeEventOnce(tx, {
            accountId: input.accountId,
            kind: 'deletion_review_due',
            step: input.step,
            actor: 'workflow',
            dryRun: input.dryRun ?? false,
            detail: {
              dueAt: input.dueAt,
              note: 'Eligible for deletion review. Nothing is deleted automatically.',
            },
            idempotencyKey: stepKey(input),
            workflowId: input.workflowId,
            runId: input.runId,
            occurredAt: new Date(input.at),
          });
          if (wrote) {
            await tx.billingAccount.updateMany({
              where: { id: input.accountId, state: 'retained' },
              data: { deletionReviewDueAt: new Date(input.dueAt) },
            });
          }
          return { applied: wrote };
        });
      }).then(countTransition('deletion_review_due', input.dryRun ?? false));
    },

    async recordAudit(input: AuditInput): Promise<{ applied: boolean }> {
      await requireAccount(input.accountId);
      const applied = await writeEventOnce(db, {
        accountId: input.accountId,
        kind: input.kind,
        step: input.step,
        actor: input.actor,
        reason: input.reason ?? null,
        dryRun: input.dryRun ?? false,
        detail: (input.detail ?? {}) as Prisma.InputJsonValue,
        idempotencyKey: stepKey(input),
        workflowId: input.workflowId,
        runId: input.runId,
        occurredAt: new Date(input.at),
      });
      return { applied };
    },

    async sendCustomerEmail(input: EmailInput): Promise<NotificationOutcome> {
      const account = await requireAccount(input.accountId);
      if (input.dryRun) {
        await recordWouldDo(input, 'would_send_email', input.idempotencyKey, {
          step: input.template,
          detail: { template: input.template },
        });
        return counted('email')('skipped_dry_run');
      }
      const owed = await amountOwed(input.accountId);
      const rendered = renderEmail(input.template, {
        accountName: account.name ?? 'there',
        amountDueCents: owed?.cents ?? null,
        currency: owed?.currency ?? null,
        hostedInvoiceUrl: owed?.hostedInvoiceUrl ?? null,
        portalUrl: deps.portalUrl,
        nextActionAt: input.nextActionAt ? new Date(input.nextActionAt) : null,
      });
      const to = account.email;
      return deliver(
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
      ).then(counted('email'));
    },

    async notifyDiscord(input: DiscordInput): Promise<NotificationOutcome> {
      const message = await chatMessage(input);
      return deliver(
        {
          accountId: input.accountId,
          channel: input.channel === 'ops' ? 'discord_ops' : 'discord_billing',
          template: input.title,
          idempotencyKey: input.idempotencyKey,
          subject: input.title,
        },
        (markSending) => deps.chat.post(input.channel, message, { beforeRequest: markSending }),
        deps.chat.kind === 'recording',
        input.workflowId,
      ).then(counted(input.channel === 'ops' ? 'discord_ops' : 'discord_billing'));
    },

    async setBackupsBlocked(input: {
      accountId: string;
      blocked: boolean;
      dryRun: boolean;
      idempotencyKey: string;
      at: string;
      workflowId: string;
      runId: string;
    }): Promise<void> {
      await enforcing('set backups blocked', input, input.idempotencyKey, async () => {
        await requireAccount(input.accountId);
        if (input.dryRun) {
          await recordWouldDo(
            input,
            input.blocked ? 'would_block_backups' : 'would_unblock_backups',
            input.idempotencyKey,
          );
          return;
        }
        await db.billingAccount.update({
          where: { id: input.accountId },
          data: { backupsBlocked: input.blocked },
        });
      });
    },

    /**
     * Stops every server of the account: remembers the power state first (so a retry after a
     * crash cannot mistake "stopped by us" for "was stopped"), then graceful shutdown with a
     * hard stop after the timeout, then marks it billing-suspended. Heartbeats per server.
     */
    async suspendServers(input: {
      accountId: string;
      dryRun: boolean;
      shutdownTimeoutMs: number;
      at: string;
      workflowId: string;
      runId: string;
      step: string;
    }): Promise<{ suspended: number[]; alreadySuspended: number[]; wouldSuspend: number[] }> {
      return enforcing('suspend servers', input, stepKey(input), async () => {
        const servers = await db.server.findMany({
          where: { accountId: input.accountId },
          orderBy: { vmid: 'asc' },
        });
        const result = {
          suspended: [] as number[],
          alreadySuspended: [] as number[],
          wouldSuspend: [] as number[],
        };
        if (input.dryRun) {
          result.wouldSuspend = servers.filter((s) => !s.billingSuspended).map((s) => s.vmid);
          await recordWouldDo(input, 'would_suspend_servers', stepKey(input), {
            step: input.step,
            detail: { vmids: result.wouldSuspend },
          });
          return result;
        }
        for (const server of servers) {
          heartbeat({ vmid: server.vmid });
          if (server.billingSuspended) {
            result.alreadySuspended.push(server.vmid);
            continue;
          }
          const ref = { vmid: server.vmid, node: server.node, kind: server.kind };
          let before = server.powerStateBeforeSuspend;
          if (!before) {
            before = await deps.servers.status(ref);
            await db.server.update({ where: { id: server.id }, data: { powerStateBeforeSuspend: before } });
          }
          await deps.servers.shutdown(ref, input.shutdownTimeoutMs);
          await db.server.update({
            where: { id: server.id },
            data: { billingSuspended: true, suspendedAt: new Date(input.at) },
          });
          result.suspended.push(server.vmid);
        }
        return result;
      });
    },

    /** Lifts the suspension; starts only the servers that were running before it. */
    async restoreServers(input: {
      accountId: string;
      restart: boolean;
      dryRun: boolean;
      workflowId: string;
      runId: string;
      step: string;
    }): Promise<{ started: number[]; unmarked: number[] }> {
      return enforcing('restore servers', input, stepKey(input), async () => {
        const servers = await db.server.findMany({
          where: { accountId: input.accountId, billingSuspended: true },
          orderBy: { vmid: 'asc' },
        });
        const result = { started: [] as number[], unmarked: [] as number[] };
        for (const server of servers) {
          heartbeat({ vmid: server.vmid });
          const ref = { vmid: server.vmid, node: server.node, kind: server.kind };
          if (
            input.restart &&
            server.powerStateBeforeSuspend === 'running' &&
            (await deps.servers.status(ref)) !== 'running'
          ) {
            await deps.servers.start(ref);
            result.started.push(server.vmid);
          }
          await db.server.update({
            where: { id: server.id },
            data: { billingSuspended: false, powerStateBeforeSuspend: null, suspendedAt: null },
          });
          result.unmarked.push(server.vmid);
        }
        return result;
      });
    },

    /**
     * Circuit breaker input, taken atomically: an advisory lock serialises the count and the
     * claim across every workflow, so a storm of suspensions cannot all slip under the threshold.
     * A slot already claimed by this step is granted again (retries are idempotent).
     */
    async claimSuspensionSlot(input: {
      accountId: string;
      workflowId: string;
      runId: string;
      step: string;
      at: string;
      threshold: number;
      windowMs: number;
      dryRun: boolean;
      bypass: boolean;
    }): Promise<{ granted: boolean; recentSuspensions: number }> {
      const idempotencyKey = stepKey(input);
      const at = new Date(input.at);
      return db.$transaction(async (tx) => {
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(7240001)`;
        const recent = await tx.billingEnforcementEvent.count({
          where: {
            kind: 'suspension_slot',
            dryRun: input.dryRun,
            occurredAt: { gt: new Date(at.getTime() - input.windowMs) },
          },
        });
        const mine = await tx.billingEnforcementEvent.findUnique({
          where: { idempotencyKey },
          select: { id: true },
        });
        if (mine) return { granted: true, recentSuspensions: recent };
        if (recent >= input.threshold && !input.bypass) return { granted: false, recentSuspensions: recent };
        await tx.billingEnforcementEvent.create({
          data: {
            accountId: input.accountId,
            kind: 'suspension_slot',
            step: input.step,
            actor: 'workflow',
            dryRun: input.dryRun,
            detail: { recentSuspensions: recent, threshold: input.threshold, bypass: input.bypass },
            idempotencyKey,
            workflowId: input.workflowId,
            runId: input.runId,
            occurredAt: at,
          },
        });
        return { granted: true, recentSuspensions: recent + 1 };
      });
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
