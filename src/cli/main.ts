// `billing`: the operators' CLI. Talks to PostgreSQL (DATABASE_URL) and Temporal directly; every
// read command takes --json, every mutation --actor and --reason, and failures exit non-zero.
import { Command, CommanderError } from 'commander';
import { registerAccounts } from './commands/accounts.js';
import { registerAudit } from './commands/audit.js';
import { registerDoctor } from './commands/doctor.js';
import { registerEvents } from './commands/events.js';
import { registerList } from './commands/list.js';
import { registerPolicy } from './commands/policy.js';
import { registerReconcile } from './commands/reconcile.js';
import { registerSimulate } from './commands/simulate.js';
import { registerStatus } from './commands/status.js';
import { registerUpdates } from './commands/updates.js';
import { loadDevEnvIfPresent } from './dev-env.js';
import { describeFailure, EXIT } from './runtime.js';

export function buildProgram(): Command {
  const program = new Command()
    .name('billing')
    .description('Billing enforcement: inspect and steer the enforcement ladders')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .addHelpText(
      'after',
      `
Exit codes: 0 ok, 1 failed, 2 usage, 3 unknown account or event, or no running ladder, 4 refused
(by the workflow, or an event that is not rejected), 65 invalid input file or an event that still
cannot be processed, 69 PostgreSQL or Temporal unavailable, 78 invalid configuration.
Environment: DATABASE_URL (required), TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE.`,
    );
  registerStatus(program);
  registerList(program);
  registerUpdates(program);
  registerAudit(program);
  registerAccounts(program);
  registerSimulate(program);
  registerReconcile(program);
  registerEvents(program);
  registerPolicy(program);
  registerDoctor(program);
  return program;
}

export async function main(argv: string[] = process.argv): Promise<number> {
  loadDevEnvIfPresent(process.stderr);
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed the problem (or the help / version).
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const { message, exitCode } = describeFailure(error);
    process.stderr.write(`billing: ${message}\n`);
    return exitCode;
  }
}

// Only when run as the program (bin/billing.mjs, `npm run billing`), not when tests import it.
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  process.exit(await main());
}
