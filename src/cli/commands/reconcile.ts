// `billing reconcile`: one reconciliation run now, through Temporal (the worker holds the Stripe
// key), waiting for its report — the same run the hourly Schedule starts.
import { type Command } from 'commander';
import { connectClient } from '../../platform/temporal/connection.js';
import { type ReconcileOutcome } from '../../reconciliation/activities.js';
import { type reconciliationWorkflow } from '../../workflows/reconciliation.js';
import { CliError, EXIT, loadCliConfig, printJson, println, type Output } from '../runtime.js';

export function printReconcileReport(out: Output, outcome: ReconcileOutcome, json?: boolean) {
  if (json) {
    printJson(out, outcome);
    return;
  }
  if (outcome.skipped) {
    println(out, `reconciliation skipped: ${outcome.reason}`);
    return;
  }
  println(out, `open invoices in Stripe: ${outcome.openInStripe}; open here: ${outcome.trackedOpen}`);
  println(out, `ladders started: ${outcome.started.length}`);
  for (const s of outcome.started) println(out, `  ${s.accountId}  ${s.invoiceId}`);
  println(out, `invoices settled: ${outcome.settled.length}`);
  for (const s of outcome.settled) println(out, `  ${s.accountId}  ${s.invoiceId}  ${s.status}`);
  println(out, `unknown customers: ${outcome.orphans.length}; below minimum: ${outcome.belowMinimum}`);
  if (outcome.started.length + outcome.settled.length === 0) println(out, 'nothing to change');
}

export function registerReconcile(program: Command) {
  program
    .command('reconcile')
    .description('compare open invoices with Stripe now: start missed ladders, settle paid ones')
    .option('--timeout <minutes>', 'give up waiting after this long', '10')
    .option('--json', 'print the report as JSON')
    .action(async (options: { timeout: string; json?: boolean }) => {
      const config = loadCliConfig();
      const client = await connectClient(config.env).catch((error: unknown) => {
        throw new CliError(
          `cannot reach Temporal at ${config.env.TEMPORAL_ADDRESS}: ${error instanceof Error ? error.message : String(error)}`,
          EXIT.unavailable,
        );
      });
      try {
        const minutes = Number(options.timeout);
        const outcome = await client.withDeadline(Date.now() + minutes * 60_000, () =>
          client.workflow.execute<typeof reconciliationWorkflow>('reconciliationWorkflow', {
            workflowId: `billing-reconciliation-manual-${new Date().toISOString()}`,
            taskQueue: config.env.TEMPORAL_TASK_QUEUE,
            args: [],
          }),
        );
        printReconcileReport(process.stdout, outcome, options.json);
      } finally {
        await client.connection.close();
      }
    });
}
