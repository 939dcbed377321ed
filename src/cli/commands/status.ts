// `billing status <account>`: the database's view and the workflow's own, side by side.
import { type Command } from 'commander';
import { formatAmount } from '../../notifications/email-templates.js';
import { type EnforcementStatus } from '../../workflows/definitions.js';
import { CliError, EXIT, printJson, println, withRealDeps, type CliDeps } from '../runtime.js';

export async function runStatus(deps: CliDeps, accountId: string, options: { json?: boolean }) {
  const account = await deps.db.billingAccount.findUnique({
    where: { id: accountId },
    include: {
      servers: { orderBy: { vmid: 'asc' } },
      invoices: { where: { status: 'open' }, orderBy: { lastEventCreatedAt: 'asc' } },
    },
  });
  if (!account) throw new CliError(`unknown account ${accountId}`, EXIT.notFound);
  let workflow: EnforcementStatus | null = null;
  let workflowError: string | undefined;
  try {
    workflow = await deps.ladder.status(accountId);
  } catch (error) {
    // The database half is still worth showing when Temporal cannot be asked.
    workflowError = error instanceof Error ? error.message : String(error);
  }
  // Names and emails stay out of terminal output (it ends up in shell logs and tickets).
  const { email: _email, name: _name, invoices, ...rest } = account;
  if (options.json) {
    printJson(deps.out, {
      account: { ...rest, openInvoices: invoices },
      workflow,
      ...(workflowError ? { workflowError } : {}),
    });
    return;
  }
  const o = deps.out;
  const date = (d: Date | string | null) => (d ? new Date(d).toISOString() : '-');
  println(o, `account    ${account.id}  (stripe ${account.stripeCustomerId ?? '-'})`);
  println(o, `state      ${account.state}  overdue since ${date(account.overdueSince)}`);
  println(
    o,
    `flags      backups ${account.backupsBlocked ? 'BLOCKED' : 'ok'}, exempt ${account.enforcementExempt ? 'yes' : 'no'}, disputed ${account.disputed ? 'yes' : 'no'}`,
  );
  const suspended = account.servers.filter((s) => s.billingSuspended).length;
  println(o, `servers    ${account.servers.length} (${suspended} suspended for billing)`);
  for (const s of account.servers) {
    println(
      o,
      `           vmid ${s.vmid} on ${s.node} (${s.kind}) ${s.powerState}${s.billingSuspended ? ', billing-suspended' : ''}`,
    );
  }
  println(
    o,
    `invoices   ${invoices.length} open${invoices.length ? `: ${invoices.map((i) => `${i.id} ${formatAmount(i.amountDue, i.currency)}`).join(', ')}` : ''}`,
  );
  if (workflowError) {
    println(o, `ladder     unknown (Temporal: ${workflowError})`);
  } else if (!workflow) {
    println(o, 'ladder     none');
  } else {
    println(
      o,
      `ladder     ${workflow.restored ? `restored by ${workflow.restored.by}` : 'running'}, state ${workflow.state}, policy ${workflow.policyVersion}${workflow.dryRun ? ' (dry-run)' : ''}`,
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
    if (workflow.deletionReviewDueAt) {
      const approval = workflow.deletionReviewApproval;
      println(
        o,
        `review     deletion review due since ${workflow.deletionReviewDueAt}${approval ? `; approved by ${approval.actor}` : ''}`,
      );
    }
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
