// `billing doctor`: is the deployment healthy? PostgreSQL, its migrations and the app's role, Temporal, the
// search attributes, the reconciliation Schedule, and the task queue: who polls it, how old its
// backlog is (the staleness the HTTP service's check alerts on). Exit 0 when every check passes.
import fs from 'node:fs';
import path from 'node:path';
import { type Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { type Command } from 'commander';
import { type Config } from '../../platform/config.js';
import { createPrisma, type PrismaClient } from '../../platform/database.js';
import { databaseRoleVerdict, roleFactsSql, type RoleFacts } from '../../platform/database-roles.js';
import {
  describeTaskQueueHealth,
  evaluateStaleness,
  type TaskQueueReport,
} from '../../platform/observability/task-queue.js';
import { stalenessThresholds } from '../../platform/observability/staleness-service.js';
import { connectClient } from '../../platform/temporal/connection.js';
import { projectRoot } from '../../dev/toolchain.js';
import { SEARCH_ATTRIBUTES } from '../../workflows/definitions.js';
import { RECONCILIATION_SCHEDULE_ID } from '../../workflows/reconciliation.js';
import { CliError, EXIT, loadCliConfig, printJson, println, type Output } from '../runtime.js';

const { IndexedValueType } = proto.temporal.api.enums.v1;
const INDEXED: Record<string, number> = {
  KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  DATETIME: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
};

export interface DoctorCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface DoctorReport {
  ok: boolean;
  checks: DoctorCheck[];
  taskQueue: TaskQueueReport | null;
}

export interface DoctorDeps {
  db: PrismaClient;
  /** null: Temporal could not be reached; its checks fail with `temporalError`. */
  client: Client | null;
  temporalError?: string;
  config: Config;
  out: Output;
  /** Where the committed migrations are; defaults to prisma/migrations. */
  migrationsDir?: string;
}

async function probe(name: string, run: () => Promise<string>): Promise<DoctorCheck> {
  try {
    return { name, ok: true, detail: await run() };
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n').filter(Boolean).at(-1) : String(error);
    return { name, ok: false, detail: message ?? 'failed' };
  }
}

export async function runDoctor(deps: DoctorDeps, options: { json?: boolean }): Promise<DoctorReport> {
  const { env } = deps.config;
  const temporal = () => {
    if (!deps.client) throw new Error(deps.temporalError ?? 'not connected');
    return deps.client;
  };
  let taskQueue: TaskQueueReport | null = null;
  const limits = stalenessThresholds(deps.config);

  const checks: DoctorCheck[] = [
    await probe('postgres', async () => {
      await deps.db.$executeRaw`SELECT 1`;
      const dir = deps.migrationsDir ?? path.join(projectRoot, 'prisma', 'migrations');
      const committed = fs
        .readdirSync(dir, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name);
      const applied = new Set(
        (
          await deps.db.$queryRaw<{ migration_name: string }[]>`
            SELECT migration_name FROM _prisma_migrations
            WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`
        ).map((r) => r.migration_name),
      );
      const pending = committed.filter((m) => !applied.has(m));
      if (pending.length)
        throw new Error(`migrations not applied: ${pending.join(', ')} (run prisma migrate deploy)`);
      return `reachable; ${applied.size} migration(s) applied, none pending`;
    }),
    // The rule the worker and the HTTP service apply at start-up (docs/runbook.md, "Database roles").
    await probe('database role', async () => {
      const [facts] = await deps.db.$queryRawUnsafe<RoleFacts[]>(roleFactsSql());
      const verdict = databaseRoleVerdict(env, facts!);
      if (verdict.action === 'refuse') throw new Error(`DATABASE_URL ${verdict.message}`);
      if (verdict.action === 'warn') return `warning: DATABASE_URL ${verdict.message}`;
      return `${facts!.role}: reads and writes rows, no DDL, no superuser`;
    }),
    await probe('temporal', async () => {
      const info = await temporal().workflowService.getSystemInfo({});
      return `reachable at ${env.TEMPORAL_ADDRESS}, namespace ${env.TEMPORAL_NAMESPACE}, server ${info.serverVersion || 'unknown version'}`;
    }),
    await probe('search attributes', async () => {
      const listed = await temporal().connection.operatorService.listSearchAttributes({
        namespace: env.TEMPORAL_NAMESPACE,
      });
      const custom = listed.customAttributes ?? {};
      const wrong = SEARCH_ATTRIBUTES.filter((key) => custom[key.name] !== INDEXED[key.type]).map(
        (key) =>
          `${key.name} (${key.type}${key.name in custom ? ', registered with another type' : ', missing'})`,
      );
      if (wrong.length) throw new Error(`not registered: ${wrong.join(', ')}`);
      return SEARCH_ATTRIBUTES.map((key) => key.name).join(', ');
    }),
    await probe('reconciliation schedule', async () => {
      const description = await temporal().schedule.getHandle(RECONCILIATION_SCHEDULE_ID).describe();
      if (description.state.paused) throw new Error(`${RECONCILIATION_SCHEDULE_ID} is paused`);
      const next = description.info.nextActionTimes[0];
      return `${RECONCILIATION_SCHEDULE_ID}, next run ${next ? next.toISOString() : 'not scheduled'}`;
    }),
  ];
  const described = await probe('task queue', async () => {
    taskQueue = await describeTaskQueueHealth(
      temporal().workflowService,
      env.TEMPORAL_NAMESPACE,
      env.TEMPORAL_TASK_QUEUE,
    );
    return `${env.TEMPORAL_TASK_QUEUE}: ${taskQueue.workflow.pollers.length} workflow / ${taskQueue.activity.pollers.length} activity poller(s)`;
  });
  if (!described.ok || !taskQueue) {
    checks.push(described);
  } else {
    for (const finding of evaluateStaleness(taskQueue, limits)) {
      checks.push({
        name: finding.kind === 'no_poller' ? 'worker' : 'backlog',
        ok: finding.ok,
        detail: finding.message,
      });
    }
  }
  const report: DoctorReport = { ok: checks.every((c) => c.ok), checks, taskQueue };

  if (options.json) {
    printJson(deps.out, report);
  } else {
    for (const c of checks) println(deps.out, `${c.ok ? 'ok  ' : 'FAIL'}  ${c.name.padEnd(24)} ${c.detail}`);
    const tq = taskQueue as TaskQueueReport | null;
    if (tq) {
      println(deps.out);
      println(deps.out, `task queue ${tq.taskQueue} (namespace ${tq.namespace}) at ${tq.checkedAt}`);
      for (const kind of ['workflow', 'activity'] as const) {
        const r = tq[kind];
        const backlog =
          r.backlogCount === null
            ? 'backlog unknown'
            : `backlog ${r.backlogCount}, oldest ${r.backlogAgeSeconds} s`;
        println(deps.out, `  ${kind.padEnd(9)} ${backlog}; pollers: ${r.pollers.length || 'none'}`);
        for (const p of r.pollers)
          println(
            deps.out,
            `            ${p.identity}  last poll ${p.lastAccessTime} (${p.ageSeconds} s ago)`,
          );
      }
    }
  }
  return report;
}

export function registerDoctor(program: Command) {
  program
    .command('doctor')
    .description(
      'check the deployment: PostgreSQL and migrations, Temporal, search attributes, the reconciliation schedule, task-queue pollers and backlog',
    )
    .option('--json', 'print the report as JSON')
    .action(async (options: { json?: boolean }) => {
      const config = loadCliConfig();
      const db = createPrisma(config.env.DATABASE_URL, { max: 2 });
      let client: Client | null = null;
      let temporalError: string | undefined;
      try {
        // Temporal down is a finding, not the end: PostgreSQL is still worth checking.
        client = await connectClient(config.env).catch((error: unknown) => {
          temporalError = `cannot reach ${config.env.TEMPORAL_ADDRESS}: ${error instanceof Error ? error.message : String(error)}`;
          return null;
        });
        const report = await runDoctor({ db, client, temporalError, config, out: process.stdout }, options);
        if (!report.ok) {
          const failed = report.checks.filter((c) => !c.ok).map((c) => c.name);
          throw new CliError(
            `${failed.length} check(s) failed: ${failed.join(', ')}`,
            client ? EXIT.failure : EXIT.unavailable,
          );
        }
      } finally {
        await db.$disconnect().catch(() => undefined);
        await client?.connection.close().catch(() => undefined);
      }
    });
}
