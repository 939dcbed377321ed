// `billing list [--state s]`: accounts in enforcement, oldest overdue first.
import { type Command, Option } from 'commander';
import { GATE_STATES, type GateState } from '../../gates/index.js';
import { printJson, println, wholeNumber, withRealDeps, type CliDeps } from '../runtime.js';

export interface ListOptions {
  state?: GateState;
  limit?: number;
  offset?: number;
  json?: boolean;
}

export async function runList(deps: Pick<CliDeps, 'db' | 'out'>, options: ListOptions) {
  const where = options.state ? { state: options.state } : { state: { not: 'active' as const } };
  const limit = options.limit ?? 100;
  const offset = options.offset ?? 0;
  const [items, total] = await Promise.all([
    deps.db.billingAccount.findMany({
      where,
      select: {
        id: true,
        state: true,
        overdueSince: true,
        backupsBlocked: true,
        enforcementExempt: true,
        disputed: true,
        retainUntil: true,
      },
      orderBy: [{ overdueSince: { sort: 'asc', nulls: 'last' } }, { id: 'asc' }],
      take: limit,
      skip: offset,
    }),
    deps.db.billingAccount.count({ where }),
  ]);
  if (options.json) {
    printJson(deps.out, { items, total, limit, offset });
    return;
  }
  if (items.length === 0) {
    println(deps.out, options.state ? `no accounts in state ${options.state}` : 'no accounts in enforcement');
    return;
  }
  println(
    deps.out,
    ['ACCOUNT'.padEnd(28), 'STATE'.padEnd(14), 'OVERDUE SINCE'.padEnd(25), 'FLAGS'].join(' '),
  );
  for (const a of items) {
    const flags = [
      a.backupsBlocked && 'backups-blocked',
      a.enforcementExempt && 'exempt',
      a.disputed && 'disputed',
    ]
      .filter(Boolean)
      .join(',');
    println(
      deps.out,
      [
        a.id.padEnd(28),
        a.state.padEnd(14),
        (a.overdueSince?.toISOString() ?? '-').padEnd(25),
        flags || '-',
      ].join(' '),
    );
  }
  println(deps.out, `${offset + 1}-${offset + items.length} of ${total}`);
}

export function registerList(program: Command) {
  program
    .command('list')
    .description('accounts in enforcement (every state but active, unless --state is given)')
    .addOption(new Option('--state <state>', 'only this state').choices(GATE_STATES))
    .option('--limit <n>', 'at most this many', wholeNumber('--limit', 1), 100)
    .option('--offset <n>', 'skip this many', wholeNumber('--offset', 0), 0)
    .option('--json', 'print JSON')
    .action((options: ListOptions) => withRealDeps((deps) => runList(deps, options)));
}
