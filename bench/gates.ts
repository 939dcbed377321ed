// `npm run bench:gates [-- --rate 500 --duration 20 --accounts 10000 --json]`
//
// Seeds accounts into a throwaway embedded PostgreSQL (or DATABASE_URL), runs the real HTTP
// service in its own process on loopback, and drives POST /v1/gates/check open-loop: requests
// are sent on a fixed schedule whatever the answers do, and latency counts from the scheduled
// time, so a slow server cannot hide its slowness by slowing the load down.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { Command } from 'commander';
import { loadConfig } from '../src/platform/config.js';
import { createPrisma } from '../src/platform/database.js';
import { startEmbeddedPostgres } from '../src/dev/embedded-postgres.js';
import { GATE_ACTIONS } from '../src/gates/index.js';
import { buildServer } from '../src/api/app.js';
import { createLogger } from '../src/platform/logger.js';
import { projectRoot } from '../src/dev/toolchain.js';

const INTERNAL_TOKEN = 'bench-internal-token-0123456789abcdef';
const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdefgh';
const STATES = ['active', 'overdue', 'final_warning', 'suspended', 'retained'] as const;
const VMID_BASE = 100_000;
let serviceCpuMs: number | undefined;

const program = new Command()
  .name('bench:gates')
  .option('--rate <n>', 'requests per second', Number, 500)
  .option('--duration <s>', 'seconds of measured load', Number, 20)
  .option('--warmup <s>', 'seconds of unmeasured load first', Number, 2)
  .option('--accounts <n>', 'accounts to seed', Number, 10_000)
  .option('--json', 'print the figures as JSON on stdout')
  .option('--serve', 'internal: run the HTTP service (child process)')
  .parse();
const opts = program.opts<{
  rate: number;
  duration: number;
  warmup: number;
  accounts: number;
  json?: boolean;
  serve?: boolean;
}>();

const progress = (message: string) => process.stderr.write(`[bench] ${message}\n`);

if (opts.serve) await serve();
else await drive();

/** The HTTP service as production runs it, except Temporal: gates never call it, so it is lazy. */
async function serve() {
  const config = loadConfig(process.env);
  const db = createPrisma(config.env.DATABASE_URL);
  const temporal = new Client({ connection: Connection.lazy({ address: config.env.TEMPORAL_ADDRESS }) });
  const app = buildServer({ config, db, temporal, logger: createLogger(config.env.LOG_LEVEL, 'http') });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const startCpu = process.cpuUsage();
  process.stdout.write(`LISTENING ${typeof address === 'object' && address ? address.port : 0}\n`);
  const stop = async () => {
    // The service's own CPU time, so the figures can be read apart from the load generator's.
    const cpu = process.cpuUsage(startCpu);
    process.stderr.write(`SERVICE_CPU_MS ${Math.round((cpu.user + cpu.system) / 1000)}\n`);
    await app.close();
    await db.$disconnect();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

async function seed(databaseUrl: string, count: number) {
  const db = createPrisma(databaseUrl);
  try {
    await db.server.deleteMany({ where: { vmid: { gte: VMID_BASE, lt: VMID_BASE + count } } });
    await db.billingAccount.deleteMany({ where: { id: { startsWith: 'bench_' } } });
    for (let start = 0; start < count; start += 2000) {
      const ids = Array.from({ length: Math.min(2000, count - start) }, (_, i) => start + i);
      await db.billingAccount.createMany({
        data: ids.map((i) => ({
          id: `bench_${i}`,
          stripeCustomerId: `cus_bench_${i}`,
          // Most accounts are in good standing; the rest spread over the rungs.
          state: i % 10 < 6 ? 'active' : STATES[(i % 4) + 1]!,
          backupsBlocked: i % 10 >= 6 && i % 4 >= 1,
          enforcementExempt: i % 97 === 0,
        })),
      });
      await db.server.createMany({
        data: ids.map((i) => ({ accountId: `bench_${i}`, vmid: VMID_BASE + i, node: 'pve1' })),
      });
    }
  } finally {
    await db.$disconnect();
  }
}

function startService(databaseUrl: string): Promise<{ port: number; stop: () => Promise<void> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join('bench', 'gates.ts'), '--serve'], {
      cwd: projectRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        INTERNAL_API_TOKEN: INTERNAL_TOKEN,
        ADMIN_TOKEN,
        STRIPE_WEBHOOK_SECRET: 'whsec_bench_unused',
        // Production logs every request at info; keep that cost in the measurement, not the noise.
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
        // Unused by the gates; nothing listens here and nothing connects.
        TEMPORAL_ADDRESS: '127.0.0.1:7233',
      },
    });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    let out = '';
    child.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      const cpu = /SERVICE_CPU_MS (\d+)/.exec(text);
      if (cpu) serviceCpuMs = Number(cpu[1]);
      else process.stderr.write(text);
    });
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /LISTENING (\d+)/.exec(out);
      if (match) {
        resolve({
          port: Number(match[1]),
          stop: async () => {
            child.kill('SIGTERM');
            await exited;
          },
        });
      }
    });
    child.once('exit', (code) =>
      reject(new Error(`the HTTP service exited before listening (code ${code})`)),
    );
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function load(port: number, accounts: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const interval = 1000 / opts.rate;
  const warmupCount = Math.round(opts.warmup * opts.rate);
  const total = warmupCount + Math.round(opts.duration * opts.rate);
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  let errors = 0;
  let sent = 0;
  let done = 0;
  let measuredStart = 0;
  let measuredEnd = 0;

  const send = (index: number, scheduled: number) => {
    const i = Math.floor(Math.random() * accounts);
    const action = GATE_ACTIONS[index % GATE_ACTIONS.length]!;
    const body = JSON.stringify(
      index % 2 === 0 ? { accountId: `bench_${i}`, action } : { serverVmid: VMID_BASE + i, action },
    );
    const measured = index >= warmupCount;
    const finish = (status: number | null) => {
      const latency = performance.now() - scheduled;
      done++;
      if (measured) {
        measuredEnd = Math.max(measuredEnd, performance.now());
        if (status === null) errors++;
        else {
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          latencies.push(latency);
        }
      }
    };
    const request = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/v1/gates/check',
        method: 'POST',
        agent,
        headers: {
          authorization: `Bearer ${INTERNAL_TOKEN}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (response) => {
        response.resume();
        response.on('end', () => finish(response.statusCode ?? 0));
      },
    );
    request.on('error', () => finish(null));
    request.end(body);
  };

  await new Promise<void>((resolve) => {
    const t0 = performance.now() + 50;
    const tick = () => {
      const now = performance.now();
      while (sent < total && t0 + sent * interval <= now) {
        const scheduled = t0 + sent * interval;
        if (sent === warmupCount) measuredStart = scheduled;
        send(sent, scheduled);
        sent++;
      }
      if (sent < total) setTimeout(tick, Math.max(0, t0 + sent * interval - performance.now()));
      else resolve();
    };
    tick();
  });
  while (done < total) await new Promise((r) => setTimeout(r, 5));
  agent.destroy();

  latencies.sort((a, b) => a - b);
  const measuredCount = total - warmupCount;
  const seconds = (measuredEnd - measuredStart) / 1000;
  const round = (n: number) => Math.round(n * 1000) / 1000;
  return {
    targetRate: opts.rate,
    durationSeconds: opts.duration,
    accounts,
    requests: measuredCount,
    ok: statuses.get(200) ?? 0,
    nonOk: [...statuses].filter(([s]) => s !== 200).reduce((n, [, c]) => n + c, 0),
    errors,
    throughputPerSecond: round(latencies.length / seconds),
    latencyMs: {
      p50: round(percentile(latencies, 50)),
      p90: round(percentile(latencies, 90)),
      p99: round(percentile(latencies, 99)),
      p999: round(percentile(latencies, 99.9)),
      max: round(latencies.at(-1) ?? NaN),
      mean: round(latencies.reduce((a, b) => a + b, 0) / latencies.length),
    },
    targetP99Ms: 10,
  };
}

async function drive() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'billing-bench-'));
  let stopPg = async () => {};
  let stopService = async () => {};
  let databaseUrl = process.env.DATABASE_URL;
  try {
    if (!databaseUrl) {
      progress('starting a throwaway embedded PostgreSQL');
      const pg = await startEmbeddedPostgres({ dataDir: path.join(tmp, 'pg'), persistent: false });
      databaseUrl = pg.databaseUrl;
      stopPg = pg.stop;
    }
    progress('applying migrations');
    execFileSync(path.join(projectRoot, 'node_modules', '.bin', 'prisma'), ['migrate', 'deploy'], {
      cwd: projectRoot,
      env: { ...process.env, DATABASE_URL: databaseUrl },
      stdio: 'ignore',
    });
    progress(`seeding ${opts.accounts} accounts with one server each`);
    await seed(databaseUrl, opts.accounts);
    progress('starting the HTTP service');
    const service = await startService(databaseUrl);
    stopService = service.stop;
    progress(
      `POST /v1/gates/check at ${opts.rate}/s: ${opts.warmup} s warm-up, then ${opts.duration} s measured (open loop)`,
    );
    const figures = await load(service.port, opts.accounts);
    await stopService();
    stopService = async () => {};
    const total = figures.requests + Math.round(opts.warmup * opts.rate);
    const result = {
      ...figures,
      serviceCpuMsPerRequest:
        serviceCpuMs === undefined ? null : Math.round((serviceCpuMs / total) * 1000) / 1000,
      cpus: os.cpus().length,
      loadAverage1m: Math.round(os.loadavg()[0]! * 100) / 100,
    };
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } else {
      const l = result.latencyMs;
      console.log(
        [
          `requests     ${result.requests} measured (${result.ok} ok, ${result.nonOk} non-200, ${result.errors} errors)`,
          `throughput   ${result.throughputPerSecond.toFixed(1)} req/s (target ${result.targetRate})`,
          `latency ms   p50 ${l.p50}  p90 ${l.p90}  p99 ${l.p99}  p99.9 ${l.p999}  max ${l.max}  mean ${l.mean}`,
          `p99 target   < ${result.targetP99Ms} ms: ${l.p99 < result.targetP99Ms ? 'met' : 'NOT met'}`,
          `service CPU  ${result.serviceCpuMsPerRequest ?? '?'} ms per request (after start-up, incl. warm-up); ${result.cpus} CPUs, load average ${result.loadAverage1m}`,
        ].join('\n'),
      );
    }
    if (result.nonOk > 0 || result.errors > 0) process.exitCode = 1;
  } finally {
    await stopService();
    await stopPg();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  // The Temporal runtime leaves handles behind.
  process.exit(process.exitCode ?? 0);
}
