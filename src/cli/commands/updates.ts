// The admin updates of a running ladder: pause, resume, extend, restore, release-hold,
// approve-deletion-review. The workflow validates each again and writes the audit row itself.
import { type Command } from 'commander';
import { adminInputSchema, extendGraceInputSchema } from '../../accounts/admin-update-schemas.js';
import { type AdminUpdateName, type EnforcementStatus } from '../../workflows/definitions.js';
import {
  CliError,
  EXIT,
  printJson,
  println,
  requireAccount,
  withRealDeps,
  type CliDeps,
} from '../runtime.js';

export interface UpdateOptions {
  actor?: string;
  reason?: string;
  hours?: number;
  json?: boolean;
}

const COMMANDS: { command: string; update: AdminUpdateName; description: string }[] = [
  {
    command: 'pause',
    update: 'pause',
    description: 'stop the ladder where it is (time paused does not count)',
  },
  { command: 'resume', update: 'resume', description: 'continue a paused or dispute-frozen ladder' },
  { command: 'extend', update: 'extendGrace', description: 'push every later rung back by --hours' },
  {
    command: 'restore',
    update: 'forceRestore',
    description: 'restore access now, as if paid, and end the ladder',
  },
  {
    command: 'release-hold',
    update: 'releaseSuspensionHold',
    description: 'let a suspension held by the circuit breaker go ahead',
  },
  {
    command: 'approve-deletion-review',
    update: 'approveDeletionReview',
    description: 'record who approved the deletion review and why (deletes nothing)',
  },
];

export async function runUpdate(
  deps: CliDeps,
  update: AdminUpdateName,
  accountId: string,
  options: UpdateOptions,
): Promise<EnforcementStatus> {
  const base = { actor: options.actor ?? '', reason: options.reason ?? '' };
  const parsed =
    update === 'extendGrace'
      ? extendGraceInputSchema.safeParse({ ...base, hours: options.hours })
      : adminInputSchema.safeParse(base);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (i) => `--${i.path.map(String).join('.') || 'input'}: ${i.message}`,
    );
    throw new CliError(problems.join('\n'), EXIT.usage);
  }
  await requireAccount(deps.db, accountId);
  const status = await deps.ladder.update(accountId, update, parsed.data);
  if (options.json) {
    printJson(deps.out, { accountId, update, status });
  } else {
    println(
      deps.out,
      `${update} applied to ${accountId} by ${parsed.data.actor}: state ${status.state}, next ${status.nextAction ? `${status.nextAction.rung} at ${status.nextAction.at}` : '-'}${status.paused ? ', paused' : ''}`,
    );
  }
  return status;
}

export function registerUpdates(program: Command) {
  for (const { command, update, description } of COMMANDS) {
    const cmd = program
      .command(command)
      .description(description)
      .argument('<account>', 'account id')
      .option('--actor <name>', 'who does this (default: $USER)', process.env.USER)
      .option('--reason <text>', 'why (required, at least 3 characters)');
    if (update === 'extendGrace') {
      cmd.requiredOption('--hours <n>', 'hours to add', (v: string) => {
        const n = Number(v);
        if (!Number.isFinite(n)) throw new CliError('--hours must be a number', EXIT.usage);
        return n;
      });
    }
    cmd
      .option('--json', 'print the resulting status as JSON')
      .action((accountId: string, options: UpdateOptions) =>
        withRealDeps(async (deps) => {
          await runUpdate(deps, update, accountId, options);
        }),
      );
  }
}
