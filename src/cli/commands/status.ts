// `billing status <account>`: the database's view and the workflow's own, side by side.
import { type Command } from 'commander';
import { formatAmount } from '../../notifications/email-templates.js';
import { type EnforcementStatus } from '../../workflows/definitions.js';
import { describeRestore, type Amount } from '../../workflows/account-rules.js';
import {
  readAccount,
  type AccountView,
  type DeletionReviewRecord,
  type DisputeRecord,
} from '../../accounts/read-model.js';
import { CliError, EXIT, printJson, println, withRealDeps, type CliDeps } from '../runtime.js';

/** "USD 42.50" per currency, joined; "-" when nothing is owed. */
const amounts = (list: Amount[]) => list.map((a) => formatAmount(a.amount, a.currency)).join(' + ') || '-';
const disputeText = (d: DisputeRecord) =>
  `${d.disputeId ?? '(dispute id not on record)'}${d.at ? ` opened ${d.at}` : ''}`;
const reviewText = (r: DeletionReviewRecord) =>
  `due since ${r.dueAt}${r.approval ? `; approved by ${r.approval.actor} at ${r.approval.at}: ${r.approval.reason}` : '; not approved'}`;

/** The account's read model as `billing status` prints it (the same facts as the APIs). */
export function formatView(view: AccountView): string[] {
  const lines: string[] = [];
  const add = (label: string, text: string) => lines.push(`${label.padEnd(10)} ${text}`);
  add('state', `${view.state}${view.overdueSince ? `  overdue since ${view.overdueSince}` : ''}`);
  add('policy', `${view.policyVersion ?? '-'} (${view.mode})`);
  if (view.enforcedState) {
    add(
      'in force',
      `${view.enforcedState} (the gates answer as ${view.enforcedState}; the ladder stands at ${view.state})`,
    );
  }
  add(
    'flags',
    `backups ${view.flags.backupsBlocked ? 'BLOCKED' : 'ok'}, exempt ${view.flags.enforcementExempt ? 'yes' : 'no'}, disputed ${view.flags.disputed ? 'yes' : 'no'}`,
  );
  const driving = view.invoices.filter((i) => i.drivesLadder).length;
  add(
    'invoices',
    `${view.invoices.length} unpaid, ${driving} driving the ladder${view.invoices.length ? ':' : ''}`,
  );
  for (const i of view.invoices) {
    lines.push(
      `${''.padEnd(10)} ${i.id} ${formatAmount(i.amountDue, i.currency)} ${i.status}, ${i.drivesLadder ? 'drives the ladder' : 'below the minimum: shown, not driving'}`,
    );
  }
  add('due', `${amounts(view.amountDue)} (driving the ladder: ${amounts(view.ladderAmountDue)})`);
  add('subscr.', view.subscriptionStatus ?? '-');
  if (view.dispute) add('dispute', `open: ${disputeText(view.dispute)}`);
  if (view.lastDispute)
    add('dispute', `last dispute ${disputeText(view.lastDispute)} (ended by the restore)`);
  if (view.deletionReview) add('review', `deletion review ${reviewText(view.deletionReview)}`);
  if (view.lastDeletionReview)
    add('review', `last deletion review ${reviewText(view.lastDeletionReview)} (ended by the restore)`);
  if (view.lastRestore)
    add('restored', `last restore ${view.lastRestore.at}: ${describeRestore(view.lastRestore)}`);
  return lines;
}

export async function runStatus(deps: CliDeps, accountId: string, options: { json?: boolean }) {
  const account = await deps.db.billingAccount.findUnique({
    where: { id: accountId },
    include: { servers: { orderBy: { vmid: 'asc' } } },
  });
  const view = account ? await readAccount(deps.db, accountId, deps.policy) : null;
  if (!account || !view) throw new CliError(`unknown account ${accountId}`, EXIT.notFound);
  let workflow: EnforcementStatus | null = null;
  let workflowError: string | undefined;
  try {
    workflow = await deps.ladder.status(accountId);
  } catch (error) {
    // The database half is still worth showing when Temporal cannot be asked.
    workflowError = error instanceof Error ? error.message : String(error);
  }
  // Names and emails stay out of terminal output (it ends up in shell logs and tickets).
  const { email: _email, name: _name, ...rest } = account;
  if (options.json) {
    printJson(deps.out, {
      account: { ...rest, openInvoices: view.invoices },
      view,
      workflow,
      ...(workflowError ? { workflowError } : {}),
    });
    return;
  }
  const o = deps.out;
  println(o, `account    ${account.id}  (stripe ${account.stripeCustomerId ?? '-'})`);
  for (const line of formatView(view)) println(o, line);
  const suspended = account.servers.filter((s) => s.billingSuspended).length;
  println(o, `servers    ${account.servers.length} (${suspended} suspended for billing)`);
  for (const s of account.servers) {
    println(
      o,
      `           vmid ${s.vmid} on ${s.node} (${s.kind}) ${s.powerState}${s.billingSuspended ? ', billing-suspended' : ''}`,
    );
  }
  if (workflowError) {
    println(o, `ladder     unknown (Temporal: ${workflowError})`);
  } else if (!workflow) {
    println(o, 'ladder     none');
  } else {
    println(
      o,
      `ladder     ${workflow.restored ? `finished: restored (${describeRestore(workflow.restored)})` : 'running'}, state ${workflow.state}, policy ${workflow.policyVersion} (${workflow.mode})`,
    );
    println(
      o,
      `next       ${workflow.nextAction ? `${workflow.nextAction.rung} at ${workflow.nextAction.at}` : '-'}`,
    );
    if (workflow.paused)
      println(
        o,
        `paused     by ${workflow.paused.actor} at ${workflow.paused.at}: ${workflow.paused.reason}`,
      );
    if (workflow.disputeFrozen)
      println(o, `frozen     dispute ${workflow.disputeFrozen.disputeId} since ${workflow.disputeFrozen.at}`);
    if (workflow.suspensionHold)
      println(
        o,
        `held       circuit breaker since ${workflow.suspensionHold.since} (${workflow.suspensionHold.recentSuspensions}/${workflow.suspensionHold.threshold})`,
      );
    if (workflow.graceExtendedHours) println(o, `grace      +${workflow.graceExtendedHours} h`);
  }
}

export function registerStatus(program: Command) {
  program
    .command('status')
    .description("an account's billing state, servers, open invoices and its ladder")
    .argument('<account>', 'account id')
    .option('--json', 'print JSON')
    .action((accountId: string, options: { json?: boolean }) =>
      withRealDeps((deps) => runStatus(deps, accountId, options)),
    );
}
