// `billing policy show | plan | apply`: the policy in force, what moving the running ladders onto
// it would change, and moving them (each ladder adopts it under the rules in the runbook's
// "Launch day" section and writes its own audit row).
import { type Command, Option } from 'commander';
import { type Client } from '@temporalio/client';
import { adminInputSchema } from '../../accounts/admin-update-schemas.js';
import {
  applyRollout,
  planRollout,
  RolloutInputError,
  type RolloutOptions,
  type RolloutPlan,
  type RolloutResult,
} from '../../ladder/policy-rollout.js';
import { describePolicy, policyInHours } from '../../platform/policy-summary.js';
import {
  BILLING_STATES,
  DEFAULT_MIN_NOTICE_HOURS,
  type BillingState,
  type EnforcementPolicy,
  type PolicyChange,
  type PolicyStanding,
} from '../../workflows/definitions.js';
import { ADMIN_INPUT_LIMITS } from '../../workflows/admin-input.js';
import {
  CliError,
  connectTemporal,
  EXIT,
  loadCliConfig,
  printJson,
  println,
  wholeNumber,
  type Output,
} from '../runtime.js';

export interface PolicyDeps {
  client: Client;
  taskQueue: string;
  policy: EnforcementPolicy;
  out: Output;
  err: Output;
}

export interface SelectOptions {
  state?: BillingState;
  account?: string;
  minNoticeHours?: number;
  concurrency?: number;
  json?: boolean;
}

const mode = (dryRun: boolean) => (dryRun ? 'dry-run' : 'enforce');

export function runPolicyShow(policy: EnforcementPolicy, out: Output, options: { json?: boolean }) {
  if (options.json) {
    printJson(out, { ...policyInHours(policy), policy });
    return;
  }
  for (const line of describePolicy(policy)) println(out, line);
}

/** A progress line on stderr: rewritten in place on a terminal, every tenth otherwise. */
function progress(err: Output & { isTTY?: boolean }, what: string) {
  let last = -1;
  return (done: number, total: number) => {
    const tenth = Math.floor((done * 10) / Math.max(total, 1));
    if (err.isTTY) err.write(`\r${what}: ${done}/${total} ladders${done === total ? '\n' : ''}`);
    else if (tenth !== last || done === total) {
      last = tenth;
      err.write(`${what}: ${done}/${total} ladders\n`);
    }
  };
}

function rolloutOptions(deps: PolicyDeps, options: SelectOptions, what: string): RolloutOptions {
  return {
    client: deps.client,
    taskQueue: deps.taskQueue,
    policy: deps.policy,
    state: options.state,
    accountId: options.account,
    minNoticeHours: options.minNoticeHours ?? DEFAULT_MIN_NOTICE_HOURS,
    concurrency: options.concurrency ?? 16,
    onProgress: progress(deps.err, what),
  };
}

const next = (s: PolicyStanding) => (s.nextRung ? `${s.nextRung.rung} ${s.nextRung.at}` : '-');

function printChanges(out: Output, changes: PolicyChange[]) {
  if (changes.length === 0) return;
  const rows = changes.map((c) => [
    c.accountId,
    c.state,
    c.from.dryRun === c.to.dryRun ? mode(c.to.dryRun) : `${mode(c.from.dryRun)} -> ${mode(c.to.dryRun)}`,
    `${c.from.version} -> ${c.to.version}`,
    `${next(c.from)} -> ${next(c.to)}`,
  ]);
  const header = ['ACCOUNT', 'STATE', 'MODE', 'POLICY', 'NEXT (old -> new)'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, ...rows]) println(out, row.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));
}

function totals(changes: PolicyChange[]) {
  const switched = changes.filter((c) => c.from.dryRun && !c.to.dryRun).length;
  const braked = changes.filter((c) => !c.from.dryRun && c.to.dryRun).length;
  return { switched, braked, versionOnly: changes.length - switched - braked };
}

function printFailures(out: Output, failed: { accountId: string; error: string }[]) {
  for (const f of failed) println(out, `failed   ${f.accountId}: ${f.error}`);
}

export async function runPolicyPlan(deps: PolicyDeps, options: SelectOptions): Promise<RolloutPlan> {
  const plan = await planRollout(rolloutOptions(deps, options, 'plan'));
  const sum = totals(plan.changes);
  if (options.json) {
    printJson(deps.out, { ...plan, totals: { ...sum, differ: plan.changes.length } });
    return plan;
  }
  println(deps.out, `policy in force: ${deps.policy.version} (${mode(deps.policy.dryRun)})`);
  printChanges(deps.out, plan.changes);
  printFailures(deps.out, plan.failed);
  println(
    deps.out,
    `${plan.scanned} running, ${plan.changes.length} would change (${sum.switched} dry-run -> enforce, ${sum.braked} enforce -> dry-run, ${sum.versionOnly} durations only), ${plan.alreadyCurrent} already current, ${plan.failed.length} could not be asked`,
  );
  return plan;
}

export async function runPolicyApply(
  deps: PolicyDeps,
  options: SelectOptions & { actor?: string; reason?: string },
): Promise<RolloutResult> {
  const who = adminInputSchema.safeParse({ actor: options.actor ?? '', reason: options.reason ?? '' });
  if (!who.success) {
    throw new CliError(
      who.error.issues.map((i) => `--${i.path.map(String).join('.')}: ${i.message}`).join('\n'),
      EXIT.usage,
    );
  }
  const result = await applyRollout({ ...rolloutOptions(deps, options, 'apply'), ...who.data });
  if (options.json) {
    printJson(deps.out, result);
  } else {
    printChanges(deps.out, result.applied);
    printFailures(deps.out, result.failed);
    println(
      deps.out,
      `${result.scanned} running: ${result.applied.length} applied, ${result.alreadyCurrent} already current, ${result.failed.length} failed`,
    );
  }
  if (result.failed.length > 0)
    throw new CliError(`${result.failed.length} ladder(s) failed; run it again to retry them`, EXIT.failure);
  return result;
}

async function withPolicyDeps(run: (deps: PolicyDeps) => Promise<unknown>) {
  const config = loadCliConfig();
  const client = await connectTemporal(config);
  try {
    await run({
      client,
      taskQueue: config.env.TEMPORAL_TASK_QUEUE,
      policy: config.policy,
      out: process.stdout,
      err: process.stderr,
    });
  } catch (error) {
    if (error instanceof RolloutInputError) throw new CliError(error.message, EXIT.usage);
    throw error;
  } finally {
    await client.connection.close().catch(() => undefined);
  }
}

function hours(value: string) {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > ADMIN_INPUT_LIMITS.maxGraceHours)
    throw new CliError('--min-notice-hours must be a number of hours from 0 to 2160 (90 days)', EXIT.usage);
  return n;
}

const selection = (cmd: Command) =>
  cmd
    .addOption(new Option('--state <state>', 'only ladders in this state').choices(BILLING_STATES))
    .option('--account <id>', "only this account's ladder")
    .option(
      '--min-notice-hours <n>',
      `no rung lands sooner than this after the change (default ${DEFAULT_MIN_NOTICE_HOURS})`,
      hours,
    )
    .option('--concurrency <n>', 'ladders asked at once (default 16)', wholeNumber('--concurrency', 1));

export function registerPolicy(program: Command) {
  const policy = program
    .command('policy')
    .description('the policy in force, and moving running ladders onto it (show, plan, apply)');
  policy
    .command('show')
    .description('the policy in force now: its version, mode and rung times in hours and days')
    .option('--json', 'print JSON')
    .action((options: { json?: boolean }) => runPolicyShow(loadCliConfig().policy, process.stdout, options));
  selection(policy.command('plan'))
    .description('what applying the policy in force would change for each running ladder (changes nothing)')
    .option('--json', 'print JSON')
    .action((options: SelectOptions) => withPolicyDeps((deps) => runPolicyPlan(deps, options)));
  selection(policy.command('apply'))
    .description('move the selected running ladders onto the policy in force (each writes an audit row)')
    .option('--actor <name>', 'who does this (default: $USER)', process.env.USER)
    .option('--reason <text>', 'why (required, at least 3 characters)')
    .option('--json', 'print the summary as JSON')
    .action((options: SelectOptions & { actor?: string; reason?: string }) =>
      withPolicyDeps((deps) => runPolicyApply(deps, options)),
    );
}
