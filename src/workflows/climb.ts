// Climbing one rung of the table in ladder.ts, and restoring: the activities each rung calls, in
// the order every recorded ladder called them (replay depends on that order). A rung is:
// dry-run check → state transition → its enforcement → customer email → Discord → history entry.
// A payment preempts it between any two steps (preempt.ts): no enforcement starts once the
// account has settled, and its notifications are not awaited.
import { allHandlersFinished, condition, continueAsNew, isCancellation, patched } from '@temporalio/workflow';
import { act, ENFORCE, notifyOn, run, SERVERS } from './activity-options.js';
import {
  type AdminInput,
  type BillingState,
  type EnforcementInput,
  type EnforcementResult,
} from './definitions.js';
import {
  changesState,
  isNotice,
  owedRungs,
  restoreLifts,
  rungSpec,
  type RungName,
  type RungSpec,
} from './ladder.js';
import { freshState, nowIso, type LadderState } from './ladder-state.js';
import { restoreReason, type RestoreRecord } from './account-rules.js';
import { mootFor, preempting, sendUnlessSettled } from './preempt.js';

interface Step {
  dryRun: boolean;
  step: string;
  at: string;
}

/** Dry-run for this step: the policy's mode, or an account exempt from enforcement. */
async function effectiveDryRun(ladder: LadderState): Promise<boolean> {
  if (ladder.policy.dryRun) return true;
  const flags = await act(ENFORCE, 'Read account flags').loadAccountFlags({ accountId: ladder.accountId });
  return flags.exempt;
}

/** An audit row's input: the step it is written under, who and why. */
function auditRow(ladder: LadderState, kind: string, mark: AdminInput, detail: Record<string, unknown>) {
  return {
    accountId: ladder.accountId,
    ...run(),
    step: ladder.nextStep(kind),
    kind,
    at: nowIso(),
    actor: mark.actor,
    reason: mark.reason,
    dryRun: ladder.policy.dryRun,
    detail,
  };
}

export async function audit(
  ladder: LadderState,
  kind: string,
  mark: AdminInput,
  detail: Record<string, unknown> = {},
) {
  await act(ENFORCE, `Audit ${kind}`).recordAudit(auditRow(ladder, kind, mark, detail));
}

/** The adopted policy and its audit row, written to the account together (messages.ts). */
export async function recordPolicyAdoption(
  ladder: LadderState,
  mark: AdminInput,
  from: { version: string; dryRun: boolean },
  detail: Record<string, unknown>,
) {
  await act(ENFORCE, 'Record the adopted policy').recordPolicyAdoption({
    ...auditRow(ladder, 'admin_apply_policy', mark, detail),
    from: { version: from.version, dryRun: from.dryRun },
    policy: { version: ladder.policy.version, dryRun: ladder.policy.dryRun },
  });
}

/**
 * Ladders that record each rung they land for real after a switch from dry-run to enforce on
 * the account row (BillingAccount.enforcedState, which the gates decide on) with an audit row.
 * Recorded ladders that switched before it replay without the activity.
 */
export const REAL_RUNGS_RECORDED_PATCH = 'real-rungs-recorded';

/**
 * A step's input for the transition activities. The policy goes to the account row with every
 * step, so the database names the policy this ladder runs (and its mode), not the service's.
 */
function stepInput(ladder: LadderState, to: BillingState, { dryRun, step, at }: Step) {
  return {
    accountId: ladder.accountId,
    ...run(),
    step,
    at,
    dryRun,
    to,
    policy: { version: ladder.policy.version, dryRun: ladder.policy.dryRun },
  };
}

/** A rung landed for real where the ladder already stands: the state stays, the gates move up. */
async function writeRealRung(ladder: LadderState, to: BillingState, dryRun: boolean): Promise<Step> {
  const step: Step = { dryRun, step: ladder.nextStep(`${to.replace('_', '-')}-for-real`), at: nowIso() };
  await act(ENFORCE, `Record ${to} landed for real`).recordRealRung(stepInput(ladder, to, step));
  return step;
}

async function transition(ladder: LadderState, to: BillingState): Promise<Step> {
  return writeTransition(ladder, to, await effectiveDryRun(ladder));
}

async function writeTransition(
  ladder: LadderState,
  to: BillingState,
  dryRun: boolean,
  fixed?: { step: string; at: string },
): Promise<Step> {
  const step = fixed?.step ?? ladder.nextStep(to);
  const at = fixed?.at ?? nowIso();
  // A restore says why.
  const base = {
    ...stepInput(ladder, to, { dryRun, step, at }),
    ...(to === 'active' ? { restore: restoreOf(ladder) } : {}),
  };
  if (to === 'retained') {
    await act(ENFORCE, 'Mark the account retained').markRetained({
      ...base,
      retainUntil: ladder.s.retainUntil ?? at,
    });
  } else {
    await act(ENFORCE, `Record transition to ${to}`).recordTransition(base);
  }
  ladder.s.state = to;
  return { dryRun, step, at };
}

/** Notifications never stop the ladder: a failure is recorded by the activity and we go on. */
async function notify(actions: string[], label: string, send: () => Promise<string>) {
  try {
    actions.push(`${label}: ${await send()}`);
  } catch (error) {
    // Cancelled only when the account settled while it waited in its queue (preempt.ts).
    actions.push(`${label}: ${isCancellation(error) ? 'dropped, settled before it was sent' : 'failed'}`);
  }
}

async function email(
  ladder: LadderState,
  actions: string[],
  template: NonNullable<RungSpec['email']> | 'restored',
  { step, dryRun }: Step,
) {
  const next = ladder.nextAction();
  await notify(actions, `email:${template}`, () =>
    act(
      notifyOn(ladder.input.notificationTaskQueues?.email),
      `Email the customer: ${template}`,
    ).sendCustomerEmail({
      accountId: ladder.accountId,
      template,
      idempotencyKey: `${ladder.ladderKey}:${step}:email`,
      dryRun,
      nextActionAt: next?.at ?? null,
      at: nowIso(),
      ...run(),
    }),
  );
}

async function discord(
  ladder: LadderState,
  actions: string[],
  { channel, title }: { channel: 'billing' | 'ops'; title: string },
  { step, dryRun }: Step,
  detail?: string,
) {
  const queues = ladder.input.notificationTaskQueues;
  const next = ladder.nextAction();
  await notify(actions, `discord:${channel}`, () =>
    act(
      notifyOn(channel === 'billing' ? queues?.discordBilling : queues?.discordOps),
      `Discord (${channel}): ${title}`,
    ).notifyDiscord({
      accountId: ladder.accountId,
      channel,
      idempotencyKey: `${ladder.ladderKey}:${step}:discord-${channel}`,
      title: dryRun ? `[dry-run] ${title}` : title,
      state: ladder.s.state,
      nextActionAt: next?.at ?? null,
      detail,
      dryRun,
      workflowId: run().workflowId,
    }),
  );
}

/**
 * Asks the circuit breaker for a suspension slot. Held: ops hears about it once, and the ladder
 * recounts later. Granted: the dry-run decision taken here is the suspension's.
 */
async function claimSuspension(
  ladder: LadderState,
  preempts: boolean,
): Promise<{ granted: boolean; dryRun: boolean } | 'preempted'> {
  const { s, policy } = ladder;
  const moot = mootFor(ladder, preempts);
  const dryRun = await effectiveDryRun(ladder);
  if (moot()) return 'preempted';
  const slot = await act(ENFORCE, 'Circuit breaker: claim a suspension slot').claimSuspensionSlot({
    accountId: ladder.accountId,
    ...run(),
    step: `${s.stepSeq + 1}:suspension-slot`,
    at: nowIso(),
    threshold: policy.suspensionBreaker.threshold,
    windowMs: policy.suspensionBreaker.windowMs,
    dryRun,
    bypass: s.suspensionHoldReleased !== null,
  });
  if (moot()) return 'preempted';
  if (slot.granted) {
    s.suspensionHold = null;
    return { granted: true, dryRun };
  }
  if (s.suspensionHold) {
    s.suspensionHold.recentSuspensions = slot.recentSuspensions;
    return { granted: false, dryRun };
  }
  s.suspensionHold = {
    since: nowIso(),
    recentSuspensions: slot.recentSuspensions,
    threshold: policy.suspensionBreaker.threshold,
  };
  const actions: string[] = [];
  const holdStep = { step: ladder.nextStep('suspension-hold'), dryRun, at: nowIso() };
  await sendUnlessSettled(ladder, preempts, [
    () =>
      discord(
        ladder,
        actions,
        { channel: 'ops', title: 'Circuit breaker: suspension held' },
        holdStep,
        `${slot.recentSuspensions} suspensions in the last ${Math.round(policy.suspensionBreaker.windowMs / 60_000)} min (threshold ${policy.suspensionBreaker.threshold}). ` +
          'Release with `billing release-hold` once the cause is understood.',
      ),
  ]);
  ladder.record('suspension_held', { actions, detail: `${slot.recentSuspensions} recent suspensions` });
  ladder.publish();
  return { granted: false, dryRun };
}

/** What the rung's enforcement does; returns what to write in the history. */
async function enforce(ladder: LadderState, spec: RungSpec, { dryRun, step, at }: Step): Promise<string[]> {
  const { accountId } = ladder;
  switch (spec.enforces) {
    case null:
      return [];
    case 'block_backups':
      await act(ENFORCE, 'Block backup changes').setBackupsBlocked({
        accountId,
        blocked: true,
        dryRun,
        idempotencyKey: `${ladder.ladderKey}:${step}:backups`,
        at,
        ...run(),
      });
      return [dryRun ? 'would block backups' : 'backups blocked'];
    case 'stop_servers': {
      const servers = await act(SERVERS, 'Stop every server of the account').suspendServers({
        accountId,
        dryRun,
        shutdownTimeoutMs: ladder.policy.shutdownTimeoutMs,
        at,
        ...run(),
        step,
      });
      return [
        dryRun
          ? `would stop servers [${servers.wouldSuspend.join(', ')}]`
          : `servers stopped [${[...servers.suspended, ...servers.alreadySuspended].join(', ')}]`,
      ];
    }
    case 'retain':
      return [`retained until ${ladder.s.retainUntil}`];
    case 'flag_deletion_review':
      await act(ENFORCE, 'Flag the account for deletion review').flagDeletionReview({
        accountId,
        ...run(),
        step,
        kind: 'deletion_review_due',
        at,
        actor: 'workflow',
        dryRun,
        dueAt: at,
      });
      ladder.s.deletionReviewDueAt = at;
      return ['deletion review due (nothing deleted)'];
  }
}

const DISCORD_DETAIL: Partial<Record<RungName, (ladder: LadderState) => string>> = {
  overdue: (ladder) => `Open invoices: ${ladder.s.openInvoices.map((i) => i.invoiceId).join(', ')}`,
  deletion_review: () =>
    'Retention has ended. A person decides; this service never deletes. Payment still restores the account.',
};

export type Climbed = 'climbed' | 'held' | 'preempted';

/**
 * Climbs one rung. Returns 'held' when the circuit breaker holds a suspension (the ladder
 * recounts later), 'preempted' when the account settled before the rung was done (the ladder
 * restores next). Everything a handler may change while this awaits is read afterwards
 * (see the note in messages.ts).
 */
export async function climb(ladder: LadderState, rung: RungName): Promise<Climbed> {
  const spec = rungSpec(rung);
  const { s } = ladder;
  const preempts = preempting();
  const moot = mootFor(ladder, preempts);
  const preempted = (before: string): Climbed => {
    ladder.record('rung_preempted', { detail: `${rung}: settled before ${before}` });
    return 'preempted';
  };
  let claimed: { dryRun: boolean } | null = null;
  // After a switch from dry-run to enforce: the switch this rung is decided under, and whether
  // the ladder stands past it already (then it lands for real where it stands, no transition).
  const under = s.realFrom;
  const reland = owedRungs(s).some((owed) => owed.rung === rung);
  if (spec.enforces === 'stop_servers') {
    const slot = await claimSuspension(ladder, preempts);
    if (slot === 'preempted') return preempted('its circuit-breaker slot was used');
    if (!slot.granted) return 'held';
    claimed = slot;
  }
  if (rung === 'overdue' && !reland) s.overdueSince = nowIso();
  if (spec.enforces === 'retain' && !reland)
    s.retainUntil = new Date(Date.now() + ladder.policy.retentionMs).toISOString();
  if (spec.rung !== 'overdue' && isNotice(spec)) {
    // A notice: remembered before its email is awaited, so it is sent once whatever arrives.
    s.noticesSent = [...(s.noticesSent ?? []), spec.rung];
  }
  let step: Step;
  const dryRun = await effectiveDryRun(ladder);
  if (moot()) return preempted('its state changed');
  if (changesState(spec) && !reland) {
    step = await writeTransition(ladder, spec.to, dryRun);
    if (claimed) step = { ...step, dryRun: claimed.dryRun };
  } else if (reland && patched(REAL_RUNGS_RECORDED_PATCH)) {
    step = await writeRealRung(ladder, spec.to, dryRun);
    if (claimed) step = { ...step, dryRun: claimed.dryRun };
  } else {
    const kind = `${spec.rung.replace('_', '-')}${reland ? '-for-real' : ''}`;
    step = { dryRun: claimed?.dryRun ?? dryRun, step: ladder.nextStep(kind), at: nowIso() };
  }
  // Before its notifications, so the email's "next" already counts the full gap after this rung.
  ladder.landed(rung, under);
  // From here the state has changed: what was done is recorded under the rung's own entry.
  const actions = moot() ? [] : await enforce(ladder, spec, step);
  const { email: template, discord: post } = spec;
  const dropped = await sendUnlessSettled(ladder, preempts, [
    ...(template ? [() => email(ladder, actions, template, step)] : []),
    ...(post ? [() => discord(ladder, actions, post, step, DISCORD_DETAIL[rung]?.(ladder))] : []),
  ]);
  // A rung without a customer email does nothing to the customer, dry-run or not.
  const marked = step.dryRun && spec.email !== null ? ['dry-run', ...actions] : actions;
  const detail =
    dropped || moot()
      ? 'settled during the rung: the ladder restores next'
      : reland
        ? 'landed for real after the switch from dry-run to enforce'
        : undefined;
  ladder.record(spec.historyKind, { actions: marked, ...(detail ? { detail } : {}) });
  return dropped || moot() ? 'preempted' : 'climbed';
}

/** Why this restore happens: the same record for the account row and the status query. */
function restoreOf(ladder: LadderState): Omit<RestoreRecord, 'at'> {
  const request = ladder.restoreRequest;
  return {
    reason: restoreReason(request !== null, ladder.s.settlements ?? []),
    actor: request?.actor ?? null,
    note: request?.reason ?? null,
  };
}

/**
 * Ladders that restore in one activity (restoreAccess: the transition and both lifts, one task
 * and one workflow task where there were four of each). Recorded ladders replay the four.
 */
export const RESTORE_IN_ONE_ACTIVITY_PATCH = 'restore-in-one-activity';

/** Lifts everything the ladder enforced and ends the workflow. */
export async function restore(ladder: LadderState): Promise<EnforcementResult> {
  ladder.finishing = true;
  const { policy, restoreRequest } = ladder;
  const openBefore = ladder.s.openInvoices.map((i) => i.invoiceId);
  const why = restoreOf(ladder);
  const by = restoreRequest?.actor ?? (why.reason === 'voided' ? 'void' : 'payment');
  const wasState = ladder.s.state;
  const actions: string[] = [];
  let restoredAt: string | null = null;
  if (wasState !== 'active') {
    // What the customer waits for: the state, backups and servers. Preempting ladders start all
    // three at once (the transition after its flag read, which decides only whether it is a
    // dry run); older ones read the flags, then once more in the transition, then lift in turn.
    const preempts = preempting();
    // Lifting is never harmful, so it is done even in dry-run (e.g. an account made exempt mid-ladder).
    const lift = async (what: 'backups' | 'servers', { step, at }: { step: string; at: string }) => {
      if (what === 'backups') {
        await act(ENFORCE, 'Unblock backups').setBackupsBlocked({
          accountId: ladder.accountId,
          blocked: false,
          dryRun: false,
          idempotencyKey: `${ladder.ladderKey}:${step}:backups`,
          at,
          ...run(),
        });
        return 'backups unblocked';
      }
      const servers = await act(
        SERVERS,
        'Lift the suspension, start servers that were running',
      ).restoreServers({
        accountId: ladder.accountId,
        restart: policy.restartServersOnRestore,
        dryRun: false,
        ...run(),
        step,
      });
      return `servers started [${servers.started.join(', ')}]`;
    };
    let step: Step;
    if (preempts && patched(RESTORE_IN_ONE_ACTIVITY_PATCH)) {
      const fixed = { step: ladder.nextStep('active'), at: nowIso() };
      // The activity decides the transition's dry run (the account's flags): not sent.
      const { dryRun: _decidedThere, ...transition } = stepInput(ladder, 'active', {
        ...fixed,
        dryRun: false,
      });
      const result = await act(SERVERS, 'Restore access: state, backups, servers').restoreAccess({
        accountId: ladder.accountId,
        ...run(),
        ...fixed,
        backupsKey: `${ladder.ladderKey}:${fixed.step}:backups`,
        restart: policy.restartServersOnRestore,
        transition: { ...transition, restore: restoreOf(ladder) },
      });
      ladder.s.state = 'active';
      step = { ...fixed, dryRun: result.dryRun };
      actions.push(...result.actions);
    } else if (preempts) {
      const fixed = { step: ladder.nextStep('active'), at: nowIso() };
      const transitioned = effectiveDryRun(ladder).then((dryRun) =>
        writeTransition(ladder, 'active', dryRun, fixed),
      );
      const lifted = Promise.all(restoreLifts().map((what) => lift(what, fixed)));
      step = await transitioned;
      actions.push(...(await lifted));
    } else {
      const dryRun = await effectiveDryRun(ladder);
      step = { ...(await transition(ladder, 'active')), dryRun };
      for (const what of restoreLifts()) actions.push(await lift(what, step));
    }
    restoredAt = step.at;
    await email(ladder, actions, 'restored', step);
    await discord(
      ladder,
      actions,
      {
        channel: 'billing',
        title: `Access restored (${why.reason === 'force_restore' ? `force-restored by ${by}` : why.reason === 'voided' ? 'invoices voided' : 'paid'})`,
      },
      step,
    );
  }
  // The time the account row records as restoredAt, so every surface names the same moment.
  ladder.restored = { at: restoredAt ?? nowIso(), by, ...why };
  ladder.record('restored', {
    actions,
    detail: restoreRequest
      ? `forceRestore by ${restoreRequest.actor}: ${restoreRequest.reason}`
      : `all open invoices settled (${why.reason})`,
  });
  ladder.publish();
  await condition(allHandlersFinished);
  const failedSince = ladder.s.openInvoices.filter((i) => !openBefore.includes(i.invoiceId));
  if (failedSince.length > 0) {
    // A payment failed while the restore was awaiting its activities: the account owes again,
    // and this workflow id is where the webhook sends that invoice's news. A fresh ladder
    // starts for it rather than ending with the failure unheard.
    const { appliedEventIds, settledInvoiceIds, history, stepSeq } = ladder.s;
    ladder.record('ladder_restarted', { detail: failedSince.map((i) => i.invoiceId).join(', ') });
    await continueAsNew<(input: EnforcementInput) => Promise<EnforcementResult>>({
      ...ladder.input,
      policy: ladder.policy,
      carried: {
        ...freshState(),
        openInvoices: failedSince,
        appliedEventIds,
        settledInvoiceIds,
        history,
        stepSeq,
      },
    });
  }
  return {
    accountId: ladder.accountId,
    outcome: wasState === 'active' ? 'nothing_overdue' : 'restored',
    finalState: 'active',
    restoredBy: by,
  };
}
