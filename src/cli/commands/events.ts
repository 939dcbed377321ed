// `billing events`: the Stripe events the service recorded. `list` finds the rejected ones (their
// content could not be processed by the code deployed then), `show` one with its replays, and
// `replay` applies a rejected event again after the fix — through the webhook's own ingest, with
// who and why recorded.
import { type Client } from '@temporalio/client';
import { type Command, Option } from 'commander';
import { adminInputSchema } from '../../accounts/admin-update-schemas.js';
import { eventIdSchema, STRIPE_EVENT_STATUSES, stripeEventSummarySelect } from '../../api/routes/events.js';
import { createLogger } from '../../platform/logger.js';
import { reasonOf } from '../../platform/dependencies.js';
import { unavailableDependency } from '../../webhook/dependency-errors.js';
import { type StripeEventIngest } from '../../webhook/ingest.js';
import { ingestFromConfig } from '../../webhook/ingest-from-config.js';
import { replayRejectedEvent } from '../../webhook/replay.js';
import {
  cliLadderClient,
  CliError,
  connectTemporal,
  EXIT,
  loadCliConfig,
  printJson,
  println,
  wholeNumber,
  withRealDeps,
  type CliDeps,
} from '../runtime.js';

type Status = (typeof STRIPE_EVENT_STATUSES)[number];

function eventId(value: string): string {
  const parsed = eventIdSchema.safeParse(value);
  if (!parsed.success) throw new CliError(`<event>: ${parsed.error.issues[0]?.message}`, EXIT.usage);
  return parsed.data;
}

export async function runEventsList(
  deps: Pick<CliDeps, 'db' | 'out'>,
  options: { status?: Status; limit?: number; json?: boolean },
) {
  const status = options.status ?? 'rejected';
  const where = { status };
  const [items, total] = await Promise.all([
    deps.db.stripeEventLog.findMany({
      where,
      select: stripeEventSummarySelect,
      orderBy: [{ receivedAt: 'asc' }, { id: 'asc' }],
      take: options.limit ?? 100,
    }),
    deps.db.stripeEventLog.count({ where }),
  ]);
  if (options.json) {
    printJson(deps.out, { items, total });
    return;
  }
  if (items.length === 0) {
    println(deps.out, `no ${status} events`);
    return;
  }
  println(
    deps.out,
    ['EVENT'.padEnd(32), 'TYPE'.padEnd(30), 'RECEIVED'.padEnd(25), 'TRIES', 'OUTCOME'].join(' '),
  );
  for (const e of items) {
    println(
      deps.out,
      [
        e.id.padEnd(32),
        e.type.padEnd(30),
        e.receivedAt.toISOString().padEnd(25),
        String(e.attempts).padEnd(5),
        e.outcome ?? '-',
      ].join(' '),
    );
  }
  println(deps.out, `${items.length} of ${total} ${status}`);
}

export async function runEventShow(
  deps: Pick<CliDeps, 'db' | 'out'>,
  id: string,
  options: { json?: boolean },
) {
  const event = await deps.db.stripeEventLog.findUnique({
    where: { id: eventId(id) },
    select: {
      ...stripeEventSummarySelect,
      replays: {
        orderBy: { requestedAt: 'asc' },
        select: {
          id: true,
          actor: true,
          reason: true,
          result: true,
          outcome: true,
          requestedAt: true,
          finishedAt: true,
        },
      },
    },
  });
  if (!event) throw new CliError(`unknown event ${id}`, EXIT.notFound);
  if (options.json) {
    printJson(deps.out, event);
    return;
  }
  println(deps.out, `${event.id}  ${event.type}  ${event.status}`);
  println(deps.out, `  outcome:   ${event.outcome ?? '-'}`);
  println(deps.out, `  account:   ${event.accountId ?? '-'}   object: ${event.objectId ?? '-'}`);
  println(deps.out, `  received:  ${event.receivedAt.toISOString()}   attempts: ${event.attempts}`);
  for (const r of event.replays) {
    println(
      deps.out,
      `  replayed ${r.requestedAt.toISOString()} by ${r.actor} (${r.reason}): ${r.result ?? 'unfinished'}${r.outcome ? ` — ${r.outcome}` : ''}`,
    );
  }
  if (event.status === 'rejected') {
    println(deps.out, `  after the fix: billing events replay ${event.id} --actor <you> --reason <why>`);
  }
}

export async function runReplay(
  deps: Pick<CliDeps, 'db' | 'out'> & { ingest: StripeEventIngest },
  id: string,
  options: { actor?: string; reason?: string; json?: boolean },
) {
  const target = eventId(id);
  const who = adminInputSchema.safeParse({ actor: options.actor ?? '', reason: options.reason ?? '' });
  if (!who.success) {
    throw new CliError(
      who.error.issues.map((i) => `--${i.path.map(String).join('.')}: ${i.message}`).join('\n'),
      EXIT.usage,
    );
  }
  let outcome;
  try {
    outcome = await replayRejectedEvent(deps, target, who.data);
  } catch (error) {
    const dependency = unavailableDependency(error);
    if (!dependency || error instanceof CliError) throw error;
    throw new CliError(
      `${dependency} is unavailable (${reasonOf(error)}); the event stays rejected: replay it again later`,
      EXIT.unavailable,
    );
  }
  switch (outcome.kind) {
    case 'unknown':
      throw new CliError(`unknown event ${target}`, EXIT.notFound);
    case 'not_rejected':
      throw new CliError(
        `event ${target} is ${outcome.status}, not rejected: only rejected events are replayed`,
        EXIT.rejected,
      );
    case 'concurrent':
      throw new CliError(`event ${target} was applied by a concurrent replay`, EXIT.rejected);
    case 'still_rejected':
      throw new CliError(
        `event ${target} still cannot be processed and stays rejected: ${outcome.result.outcome}`,
        EXIT.dataError,
      );
    case 'applied': {
      const { result } = outcome;
      if (options.json) {
        printJson(deps.out, { ...result, replayId: outcome.replayId });
      } else {
        println(
          deps.out,
          `replayed ${result.eventId} (${result.type}): ${result.status} — ${result.outcome}`,
        );
      }
    }
  }
}

/**
 * The webhook's ingest for the CLI, connected to Temporal only when a replay gets as far as
 * applying an event (unknown or not-rejected ids need the database alone).
 */
async function withReplayDeps(
  run: (deps: Pick<CliDeps, 'db' | 'out'> & { ingest: StripeEventIngest }) => Promise<void>,
) {
  const config = loadCliConfig();
  let client: Client | undefined;
  let ingest: StripeEventIngest | undefined;
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn', 'billing-cli', process.stderr);
  await withRealDeps(async (deps) => {
    const lazy: StripeEventIngest = async (event, options) => {
      if (!ingest) {
        client = await connectTemporal(config);
        const ladder = cliLadderClient(config, client);
        ingest = ingestFromConfig({ config, db: deps.db, ladder, logger });
      }
      return ingest(event, options);
    };
    try {
      await run({ db: deps.db, out: deps.out, ingest: lazy });
    } finally {
      await client?.connection.close().catch(() => undefined);
    }
  });
}

export function registerEvents(program: Command) {
  const events = program
    .command('events')
    .description('Stripe events the service recorded: find rejected ones, replay one after a fix');

  events
    .command('list')
    .description('events by status, oldest first (default: rejected)')
    .addOption(
      new Option('--status <status>', 'only this status').choices(STRIPE_EVENT_STATUSES).default('rejected'),
    )
    .option('--limit <n>', 'at most this many', wholeNumber('--limit', 1), 100)
    .option('--json', 'print JSON')
    .action((options: { status?: Status; limit?: number; json?: boolean }) =>
      withRealDeps((deps) => runEventsList(deps, options)),
    );

  events
    .command('show')
    .description('one event: its status, outcome (for a rejected one, why) and replays')
    .argument('<event>', 'the Stripe event id (evt_…)')
    .option('--json', 'print JSON')
    .action((id: string, options: { json?: boolean }) =>
      withRealDeps((deps) => runEventShow(deps, id, options)),
    );

  events
    .command('replay')
    .description('apply a rejected event again, through the webhook ingest (after the fix is deployed)')
    .argument('<event>', 'the Stripe event id (evt_…)')
    .option('--actor <name>', 'who does this (default: $USER)', process.env.USER)
    .option('--reason <text>', 'why (required, at least 3 characters)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Exit codes: 0 applied, 3 unknown event, 4 not rejected (nothing done), 65 still cannot be
processed (stays rejected, with the new reason), 69 PostgreSQL or Temporal unavailable (stays
rejected: replay again later).`,
    )
    .action((id: string, options: { actor?: string; reason?: string; json?: boolean }) =>
      withReplayDeps((deps) => runReplay(deps, id, options)),
    );
}
