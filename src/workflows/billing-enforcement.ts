// One durable workflow per overdue account walks the ladder of DESIGN.md §1:
// overdue → final warning (+ backups blocked) → suspended → retained → deletion review due.
// Settling every open invoice restores access and ends it, at any rung. Nothing is deleted.
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { adminInputIssues } from './admin-input.js';
import {
  approveDeletionReviewUpdate,
  BillingAccountId,
  BillingNextActionAt,
  BillingOverdueSince,
  BillingStateAttr,
  disputeOpenedSignal,
  extendGraceUpdate,
  forceRestoreUpdate,
  invoiceSettledSignal,
  MAX_HISTORY,
  MAX_REMEMBERED_EVENT_IDS,
  NON_RETRYABLE_ERROR_TYPES,
  NOTIFICATION_MAX_ATTEMPTS,
  pauseUpdate,
  paymentFailedSignal,
  releaseSuspensionHoldUpdate,
  resumeUpdate,
  statusQuery,
  type AdminInput,
  type AdminMark,
  type BillingState,
  type CarriedState,
  type EnforcementInput,
  type EnforcementResult,
  type EnforcementStatus,
  type Rung,
} from './definitions.js';

const HOUR_MS = 3_600_000;
/** How often a held suspension re-counts the trailing window on its own. */
const SUSPENSION_HOLD_RECHECK = '10 minutes';

// Enforcement actions (state, backups, servers) retry with backoff until they succeed; the
// activities alert ops when they keep failing. Notifications fail soft after a few attempts.
const ENFORCE: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '10 minutes',
    nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
  },
};
const SERVERS: ActivityOptions = {
  ...ENFORCE,
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '5 minutes',
};
const NOTIFY: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '2 minutes',
    maximumAttempts: NOTIFICATION_MAX_ATTEMPTS,
  },
};

/** NOTIFY on the given queue (the ladder's own when the input names none). */
const notifyOn = (taskQueue: string | undefined): ActivityOptions =>
  taskQueue ? { ...NOTIFY, taskQueue } : NOTIFY;

/** Activities with a summary that the Temporal UI shows next to the call. */
const act = (options: ActivityOptions, summary: string) =>
  proxyActivities<Activities>({ ...options, summary });

function freshState(): CarriedState {
  return {
    state: 'active',
    overdueSince: null,
    openInvoices: [],
    settledInvoiceIds: [],
    appliedEventIds: [],
    shiftMs: 0,
    graceExtendedHours: 0,
    paused: null,
    haltedSince: null,
    disputeFrozen: null,
    suspensionHold: null,
    suspensionHoldReleased: null,
    retainUntil: null,
    deletionReviewDueAt: null,
    deletionReviewApproval: null,
    history: [],
    stepSeq: 0,
  };
}

function validated(input: unknown, options: { hours?: boolean } = {}): void {
  const issues = adminInputIssues(input, options);
  if (issues.length > 0) throw new Error(`invalid input: ${issues.join('; ')}`);
}

export async function billingEnforcementWorkflow(input: EnforcementInput): Promise<EnforcementResult> {
  const { accountId, policy } = input;
  const s: CarriedState = input.carried ?? freshState();
  const info = workflowInfo();
  // Keys stay stable across continueAsNew: the first run's id names the whole ladder.
  const ladderKey = `${info.workflowId}:${info.firstExecutionRunId}`;
  let restoreRequest: AdminMark | null = null;
  let restored: { at: string; by: string } | null = null;
  let finishing = false;
  /** The rung whose activities are being awaited, if any: message handlers run in between. */
  let climbing: Rung | null = null;
  /** Bumped by every message that can move the next deadline: waits re-evaluate. */
  let wake = 0;

  const now = () => new Date(Date.now());
  const nowIso = () => now().toISOString();
  const nextStep = (kind: string) => `${++s.stepSeq}:${kind}`;
  const halted = () => s.paused !== null || s.disputeFrozen !== null;
  const shouldRestore = () =>
    restoreRequest !== null || (s.state !== 'active' && s.openInvoices.length === 0);

  function record(kind: string, extra: { actions?: string[]; detail?: string } = {}) {
    s.history.push({ at: nowIso(), kind, state: s.state, ...extra });
    if (s.history.length > MAX_HISTORY) s.history.splice(0, s.history.length - MAX_HISTORY);
  }

  /**
   * Moves the next deadline back. Once the retained rung has begun (retainUntil is set before its
   * activities are awaited) the deadline is the end of retention, even while the state still
   * reads `suspended`: shifting the rung offsets then would be audited but never read.
   */
  function postpone(ms: number) {
    if (s.retainUntil) s.retainUntil = new Date(Date.parse(s.retainUntil) + ms).toISOString();
    else s.shiftMs += ms;
  }

  function alreadyApplied(eventId: string): boolean {
    if (s.appliedEventIds.includes(eventId)) return true;
    s.appliedEventIds.push(eventId);
    if (s.appliedEventIds.length > MAX_REMEMBERED_EVENT_IDS) s.appliedEventIds.shift();
    return false;
  }

  function nextAction(): { rung: Rung; at: string } | null {
    if (s.state === 'active' || !s.overdueSince) return null;
    const base = Date.parse(s.overdueSince) + s.shiftMs;
    switch (s.state) {
      case 'overdue':
        return { rung: 'final_warning', at: new Date(base + policy.finalWarningAfterMs).toISOString() };
      case 'final_warning':
        return { rung: 'suspended', at: new Date(base + policy.suspendAfterMs).toISOString() };
      case 'suspended':
        return { rung: 'retained', at: new Date(base + policy.retainAfterMs).toISOString() };
      case 'retained':
        return s.deletionReviewDueAt || !s.retainUntil
          ? null
          : { rung: 'deletion_review', at: s.retainUntil };
    }
  }

  function status(): EnforcementStatus {
    return {
      accountId,
      state: s.state,
      policyVersion: policy.version,
      dryRun: policy.dryRun,
      overdueSince: s.overdueSince,
      openInvoices: s.openInvoices,
      nextAction: halted() || restored ? null : nextAction(),
      paused: s.paused,
      disputeFrozen: s.disputeFrozen,
      suspensionHold: s.suspensionHold,
      graceExtendedHours: s.graceExtendedHours,
      retainUntil: s.retainUntil,
      deletionReviewDueAt: s.deletionReviewDueAt,
      deletionReviewApproval: s.deletionReviewApproval,
      restored,
      history: s.history,
    };
  }

  function publish() {
    const next = halted() ? null : nextAction();
    if (input.publishSearchAttributes !== false) {
      upsertSearchAttributes([
        { key: BillingAccountId, value: accountId },
        { key: BillingStateAttr, value: s.state },
        { key: BillingOverdueSince, value: s.overdueSince ? new Date(s.overdueSince) : null },
        { key: BillingNextActionAt, value: next ? new Date(next.at) : null },
      ]);
    }
    const parts = [`Account ${accountId} is ${s.state.replace('_', ' ')}`];
    if (s.overdueSince) parts.push(`overdue since ${s.overdueSince}`);
    parts.push(
      `${s.openInvoices.length} open invoice(s): ${s.openInvoices.map((i) => i.invoiceId).join(', ') || 'none'}`,
    );
    if (s.paused) parts.push(`PAUSED by ${s.paused.actor}: ${s.paused.reason}`);
    if (s.disputeFrozen) parts.push(`FROZEN by dispute ${s.disputeFrozen.disputeId} until an admin resumes`);
    if (s.suspensionHold)
      parts.push(
        `suspension HELD by the circuit breaker (${s.suspensionHold.recentSuspensions} suspensions in the window, threshold ${s.suspensionHold.threshold})`,
      );
    if (next) parts.push(`next: ${next.rung.replace('_', ' ')} at ${next.at}`);
    if (s.deletionReviewDueAt)
      parts.push(
        `eligible for deletion review since ${s.deletionReviewDueAt} (a person decides; nothing is deleted automatically)`,
      );
    if (policy.dryRun) parts.push('DRY-RUN: nothing is done to the customer');
    setCurrentDetails(`${parts.join('. ')}.`);
  }

  async function effectiveDryRun(): Promise<boolean> {
    if (policy.dryRun) return true;
    const flags = await act(ENFORCE, 'Read account flags').loadAccountFlags({ accountId });
    return flags.exempt;
  }

  async function audit(kind: string, mark: AdminInput, detail: Record<string, unknown> = {}) {
    await act(ENFORCE, `Audit ${kind}`).recordAudit({
      accountId,
      workflowId: info.workflowId,
      runId: info.firstExecutionRunId,
      step: nextStep(kind),
      kind,
      at: nowIso(),
      actor: mark.actor,
      reason: mark.reason,
      dryRun: policy.dryRun,
      detail,
    });
  }

  /** Notifications never stop the ladder: a failure is recorded by the activity and we go on. */
  async function notify(actions: string[], label: string, send: () => Promise<string>) {
    try {
      const outcome = await send();
      actions.push(`${label}: ${outcome}`);
    } catch {
      actions.push(`${label}: failed`);
    }
  }

  async function transition(to: BillingState, extra: { retainUntil?: string } = {}) {
    const dryRun = await effectiveDryRun();
    const step = nextStep(to);
    const at = nowIso();
    const base = {
      accountId,
      workflowId: info.workflowId,
      runId: info.firstExecutionRunId,
      step,
      at,
      dryRun,
      to,
    };
    if (to === 'retained') {
      await act(ENFORCE, 'Mark the account retained').markRetained({
        ...base,
        retainUntil: extra.retainUntil ?? at,
      });
    } else {
      await act(ENFORCE, `Record transition to ${to}`).recordTransition(base);
    }
    s.state = to;
    return { dryRun, step, at };
  }

  async function customerEmail(
    actions: string[],
    template: 'payment_failed' | 'final_warning' | 'suspended' | 'retained' | 'restored',
    step: string,
    dryRun: boolean,
  ) {
    const next = nextAction();
    await notify(actions, `email:${template}`, () =>
      act(notifyOn(input.notificationTaskQueues?.email), `Email the customer: ${template}`).sendCustomerEmail(
        {
          accountId,
          template,
          idempotencyKey: `${ladderKey}:${step}:email`,
          dryRun,
          nextActionAt: template === 'retained' ? s.retainUntil : (next?.at ?? null),
          at: nowIso(),
          workflowId: info.workflowId,
          runId: info.firstExecutionRunId,
        },
      ),
    );
  }

  async function discord(
    actions: string[],
    channel: 'billing' | 'ops',
    title: string,
    step: string,
    dryRun: boolean,
    detail?: string,
  ) {
    const next = nextAction();
    await notify(actions, `discord:${channel}`, () =>
      act(
        notifyOn(
          channel === 'billing'
            ? input.notificationTaskQueues?.discordBilling
            : input.notificationTaskQueues?.discordOps,
        ),
        `Discord (${channel}): ${title}`,
      ).notifyDiscord({
        accountId,
        channel,
        idempotencyKey: `${ladderKey}:${step}:discord-${channel}`,
        title: dryRun ? `[dry-run] ${title}` : title,
        state: s.state,
        nextActionAt: next?.at ?? null,
        detail,
        dryRun,
        workflowId: info.workflowId,
      }),
    );
  }

  // ---- rungs ------------------------------------------------------------------------------

  async function enterOverdue() {
    s.overdueSince = nowIso();
    const { dryRun, step } = await transition('overdue');
    const actions: string[] = [];
    await customerEmail(actions, 'payment_failed', step, dryRun);
    await discord(
      actions,
      'billing',
      'Payment failed: account overdue',
      step,
      dryRun,
      `Open invoices: ${s.openInvoices.map((i) => i.invoiceId).join(', ')}`,
    );
    record('overdue', { actions: dryRun ? ['dry-run', ...actions] : actions });
  }

  async function finalWarning() {
    const { dryRun, step, at } = await transition('final_warning');
    const actions: string[] = [];
    await act(ENFORCE, 'Block backup changes').setBackupsBlocked({
      accountId,
      blocked: true,
      dryRun,
      idempotencyKey: `${ladderKey}:${step}:backups`,
      at,
      workflowId: info.workflowId,
      runId: info.firstExecutionRunId,
    });
    actions.push(dryRun ? 'would block backups' : 'backups blocked');
    await customerEmail(actions, 'final_warning', step, dryRun);
    await discord(actions, 'billing', 'Final warning: backups blocked', step, dryRun);
    record('final_warning', { actions: dryRun ? ['dry-run', ...actions] : actions });
  }

  /** Returns false when the circuit breaker holds the suspension. */
  async function suspend(): Promise<boolean> {
    const dryRun = await effectiveDryRun();
    const slot = await act(ENFORCE, 'Circuit breaker: claim a suspension slot').claimSuspensionSlot({
      accountId,
      workflowId: info.workflowId,
      runId: info.firstExecutionRunId,
      step: `${s.stepSeq + 1}:suspension-slot`,
      at: nowIso(),
      threshold: policy.suspensionBreaker.threshold,
      windowMs: policy.suspensionBreaker.windowMs,
      dryRun,
      bypass: s.suspensionHoldReleased !== null,
    });
    if (!slot.granted) {
      if (!s.suspensionHold) {
        s.suspensionHold = {
          since: nowIso(),
          recentSuspensions: slot.recentSuspensions,
          threshold: policy.suspensionBreaker.threshold,
        };
        const step = nextStep('suspension-hold');
        const actions: string[] = [];
        await discord(
          actions,
          'ops',
          'Circuit breaker: suspension held',
          step,
          dryRun,
          `${slot.recentSuspensions} suspensions in the last ${Math.round(policy.suspensionBreaker.windowMs / 60_000)} min (threshold ${policy.suspensionBreaker.threshold}). ` +
            'Release with `billing release-hold` once the cause is understood.',
        );
        record('suspension_held', { actions, detail: `${slot.recentSuspensions} recent suspensions` });
        publish();
      } else {
        s.suspensionHold.recentSuspensions = slot.recentSuspensions;
      }
      return false;
    }
    s.suspensionHold = null;
    const { step, at } = await transition('suspended');
    const actions: string[] = [];
    const servers = await act(SERVERS, 'Stop every server of the account').suspendServers({
      accountId,
      dryRun,
      shutdownTimeoutMs: policy.shutdownTimeoutMs,
      at,
      workflowId: info.workflowId,
      runId: info.firstExecutionRunId,
      step,
    });
    actions.push(
      dryRun
        ? `would stop servers [${servers.wouldSuspend.join(', ')}]`
        : `servers stopped [${[...servers.suspended, ...servers.alreadySuspended].join(', ')}]`,
    );
    await customerEmail(actions, 'suspended', step, dryRun);
    await discord(actions, 'billing', 'Suspended: servers stopped (no data deleted)', step, dryRun);
    record('suspended', { actions: dryRun ? ['dry-run', ...actions] : actions });
    return true;
  }

  async function retain() {
    s.retainUntil = new Date(Date.now() + policy.retentionMs).toISOString();
    const { dryRun, step } = await transition('retained', { retainUntil: s.retainUntil });
    const actions: string[] = [`retained until ${s.retainUntil}`];
    await customerEmail(actions, 'retained', step, dryRun);
    await discord(actions, 'billing', 'Retained: data kept, servers stay stopped', step, dryRun);
    record('retained', { actions: dryRun ? ['dry-run', ...actions] : actions });
  }

  async function deletionReview() {
    const dryRun = await effectiveDryRun();
    const step = nextStep('deletion-review');
    const at = nowIso();
    await act(ENFORCE, 'Flag the account for deletion review').flagDeletionReview({
      accountId,
      workflowId: info.workflowId,
      runId: info.firstExecutionRunId,
      step,
      kind: 'deletion_review_due',
      at,
      actor: 'workflow',
      dryRun,
      dueAt: at,
    });
    s.deletionReviewDueAt = at;
    const actions: string[] = ['deletion review due (nothing deleted)'];
    await discord(
      actions,
      'ops',
      'Eligible for deletion review',
      step,
      dryRun,
      'Retention has ended. A person decides; this service never deletes. Payment still restores the account.',
    );
    record('deletion_review_due', { actions });
  }

  async function restore(): Promise<EnforcementResult> {
    finishing = true;
    const by = restoreRequest?.actor ?? 'payment';
    const wasState = s.state;
    const actions: string[] = [];
    if (wasState !== 'active') {
      const dryRun = await effectiveDryRun();
      const { step, at } = await transition('active');
      // Lifting is never harmful, so it is done even in dry-run (e.g. an account made exempt mid-ladder).
      await act(ENFORCE, 'Unblock backups').setBackupsBlocked({
        accountId,
        blocked: false,
        dryRun: false,
        idempotencyKey: `${ladderKey}:${step}:backups`,
        at,
        workflowId: info.workflowId,
        runId: info.firstExecutionRunId,
      });
      const servers = await act(
        SERVERS,
        'Lift the suspension, start servers that were running',
      ).restoreServers({
        accountId,
        restart: policy.restartServersOnRestore,
        dryRun: false,
        workflowId: info.workflowId,
        runId: info.firstExecutionRunId,
        step,
      });
      actions.push('backups unblocked', `servers started [${servers.started.join(', ')}]`);
      await customerEmail(actions, 'restored', step, dryRun);
      await discord(
        actions,
        'billing',
        `Access restored (${by === 'payment' ? 'paid' : `force-restored by ${by}`})`,
        step,
        dryRun,
      );
    }
    restored = { at: nowIso(), by };
    record('restored', {
      actions,
      detail: restoreRequest
        ? `forceRestore by ${restoreRequest.actor}: ${restoreRequest.reason}`
        : 'all open invoices settled',
    });
    publish();
    await condition(allHandlersFinished);
    return {
      accountId,
      outcome: wasState === 'active' ? 'nothing_overdue' : 'restored',
      finalState: 'active',
      restoredBy: by,
    };
  }

  // ---- messages ---------------------------------------------------------------------------

  setHandler(paymentFailedSignal, (e) => {
    if (alreadyApplied(e.eventId)) return;
    if (s.settledInvoiceIds.includes(e.invoiceId)) {
      record('payment_failed_ignored', { detail: `${e.invoiceId} is already settled` });
      return;
    }
    const open = s.openInvoices.find((i) => i.invoiceId === e.invoiceId);
    if (open) {
      open.failures++;
    } else {
      s.openInvoices.push({
        invoiceId: e.invoiceId,
        firstFailedAt: e.at,
        failures: 1,
        amountDue: e.amountDue,
        currency: e.currency,
      });
    }
    // A repeated failure is recorded; it never restarts the ladder.
    if (s.state !== 'active') record('payment_failed_again', { detail: e.invoiceId });
    wake++;
  });

  setHandler(invoiceSettledSignal, (e) => {
    if (alreadyApplied(e.eventId)) return;
    s.openInvoices = s.openInvoices.filter((i) => i.invoiceId !== e.invoiceId);
    if (!s.settledInvoiceIds.includes(e.invoiceId)) s.settledInvoiceIds.push(e.invoiceId);
    if (s.settledInvoiceIds.length > MAX_REMEMBERED_EVENT_IDS) s.settledInvoiceIds.shift();
    record('invoice_settled', { detail: `${e.invoiceId} ${e.how}; ${s.openInvoices.length} still open` });
    wake++;
  });

  setHandler(disputeOpenedSignal, (e) => {
    if (alreadyApplied(e.eventId)) return;
    if (!s.disputeFrozen) {
      s.disputeFrozen = { disputeId: e.disputeId, at: nowIso() };
      s.haltedSince ??= nowIso();
    }
    record('dispute_freeze', { detail: `dispute ${e.disputeId}: frozen until an admin resumes` });
    wake++;
  });

  setHandler(statusQuery, status);

  const assertOpen = () => {
    if (finishing) throw new Error('the ladder is already being restored');
  };

  setHandler(
    pauseUpdate,
    async (mark) => {
      s.paused = { ...mark, at: nowIso() };
      s.haltedSince ??= nowIso();
      record('paused', { detail: `${mark.actor}: ${mark.reason}` });
      wake++;
      publish();
      await audit('admin_pause', mark);
      return status();
    },
    {
      validator: (mark) => {
        validated(mark);
        assertOpen();
        if (s.paused) throw new Error(`already paused by ${s.paused.actor}`);
      },
    },
  );

  setHandler(
    resumeUpdate,
    async (mark) => {
      const haltedMs = s.haltedSince ? Date.now() - Date.parse(s.haltedSince) : 0;
      // Time spent halted does not count towards the next rung.
      postpone(haltedMs);
      const wasFrozen = s.disputeFrozen;
      s.paused = null;
      s.disputeFrozen = null;
      s.haltedSince = null;
      record('resumed', { detail: `${mark.actor}: ${mark.reason}` });
      wake++;
      publish();
      await audit('admin_resume', mark, { haltedMs, dispute: wasFrozen?.disputeId ?? null });
      return status();
    },
    {
      validator: (mark) => {
        validated(mark);
        assertOpen();
        if (!s.paused && !s.disputeFrozen) throw new Error('the ladder is neither paused nor frozen');
      },
    },
  );

  setHandler(
    extendGraceUpdate,
    async (req) => {
      postpone(req.hours * HOUR_MS);
      s.graceExtendedHours += req.hours;
      record('grace_extended', { detail: `+${req.hours} h by ${req.actor}: ${req.reason}` });
      wake++;
      publish();
      await audit('admin_extend_grace', req, { hours: req.hours });
      return status();
    },
    {
      validator: (req) => {
        validated(req, { hours: true });
        assertOpen();
        if (s.state === 'active') throw new Error('the account is not overdue yet');
        if (s.deletionReviewDueAt || climbing === 'deletion_review')
          throw new Error('retention has already ended; the deletion review is due');
      },
    },
  );

  setHandler(
    forceRestoreUpdate,
    async (mark) => {
      restoreRequest = { ...mark, at: nowIso() };
      wake++;
      await audit('admin_force_restore', mark);
      return status();
    },
    {
      validator: (mark) => {
        validated(mark);
        assertOpen();
        if (restoreRequest) throw new Error('a restore was already requested');
      },
    },
  );

  setHandler(
    releaseSuspensionHoldUpdate,
    async (mark) => {
      s.suspensionHoldReleased = { ...mark, at: nowIso() };
      record('suspension_hold_released', { detail: `${mark.actor}: ${mark.reason}` });
      wake++;
      await audit('admin_release_suspension_hold', mark);
      return status();
    },
    {
      validator: (mark) => {
        validated(mark);
        assertOpen();
        if (!s.suspensionHold) throw new Error('no suspension is held by the circuit breaker');
      },
    },
  );

  setHandler(
    approveDeletionReviewUpdate,
    async (mark) => {
      // Records who approved what, when and why. It deletes nothing and does not end the
      // workflow: the deletion is a person's job, and a payment before then still restores.
      s.deletionReviewApproval = { ...mark, at: nowIso() };
      record('deletion_review_approved', { detail: `${mark.actor}: ${mark.reason}` });
      await audit('admin_approve_deletion_review', mark);
      return status();
    },
    {
      validator: (mark) => {
        validated(mark);
        assertOpen();
        if (!s.deletionReviewDueAt) throw new Error('the account is not due for deletion review');
        if (s.deletionReviewApproval)
          throw new Error(`already approved by ${s.deletionReviewApproval.actor}`);
      },
    },
  );

  // ---- the ladder ---------------------------------------------------------------------------

  async function continueAsNewIfDue() {
    const historyLength = workflowInfo().historyLength;
    const due =
      workflowInfo().continueAsNewSuggested ||
      (input.continueAsNewAfterEvents !== undefined && historyLength >= input.continueAsNewAfterEvents);
    if (!due) return;
    await condition(allHandlersFinished);
    await continueAsNew<typeof billingEnforcementWorkflow>({ ...input, carried: s });
  }

  publish();
  if (s.state === 'active') {
    // signalWithStart delivers paymentFailed before the first line of this function runs.
    const overdue = await condition(() => s.openInvoices.length > 0 || restoreRequest !== null, '1 day', {
      summary: 'Wait for a failed payment',
    });
    if (!overdue || restoreRequest) return restore();
    await enterOverdue();
    publish();
  }

  for (;;) {
    if (shouldRestore()) return restore();
    if (halted()) {
      const gen = wake;
      await condition(() => shouldRestore() || wake !== gen);
      await continueAsNewIfDue();
      continue;
    }
    const next = nextAction();
    const gen = wake;
    if (!next) {
      // Deletion review is due: only a payment or a forced restore ends the workflow.
      await condition(() => shouldRestore() || halted() || wake !== gen);
      await continueAsNewIfDue();
      continue;
    }
    const waitMs = Date.parse(next.at) - Date.now();
    if (waitMs > 0) {
      await condition(() => shouldRestore() || halted() || wake !== gen, waitMs, {
        summary: `Until ${next.rung.replace('_', ' ')} at ${next.at}`,
      });
      await continueAsNewIfDue();
      continue;
    }
    climbing = next.rung;
    switch (next.rung) {
      case 'final_warning':
        await finalWarning();
        break;
      case 'suspended':
        if (!(await suspend())) {
          await condition(
            () => shouldRestore() || halted() || s.suspensionHoldReleased !== null || wake !== gen,
            SUSPENSION_HOLD_RECHECK,
            {
              summary: 'Suspension held by the circuit breaker: recount',
            },
          );
        }
        break;
      case 'retained':
        await retain();
        break;
      case 'deletion_review':
        await deletionReview();
        break;
    }
    climbing = null;
    publish();
    await continueAsNewIfDue();
  }
}
