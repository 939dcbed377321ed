// Shared pieces of the benchmarks: throwaway PostgreSQL and Temporal servers, child processes
// for the real worker and HTTP service, a closed-loop load driver and percentiles.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, makeTelemetryFilterString, Runtime } from '@temporalio/worker';
import { startEmbeddedPostgres, freePort } from '../src/dev/embedded-postgres.js';
import { ensureAppLoginRole, withCredentials } from '../src/platform/database-roles.js';
import { signPayload } from '../src/webhook/event-builders.js';
import { startTimeSkippingEnvironment } from '../src/dev/time-skipping.js';
import { projectRoot, temporalCliExecutable } from '../src/dev/toolchain.js';
import { SEARCH_ATTRIBUTES } from '../src/workflows/definitions.js';

export { freePort };

export const INTERNAL_TOKEN = 'bench-internal-token-0123456789abcdef';
export const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdefgh';
// Shaped like a real signing secret: the services run with NODE_ENV=production, which refuses others.
export const WEBHOOK_SECRET = 'whsec_benchSecret0123456789abcdefGHIJKLmn';

export const progress = (message: string) => process.stderr.write(`[bench] ${message}\n`);

export const round = (n: number, digits = 1) => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function latencySummary(latencies: number[]) {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    p50: round(percentile(sorted, 50), 2),
    p90: round(percentile(sorted, 90), 2),
    p99: round(percentile(sorted, 99), 2),
    max: round(sorted.at(-1) ?? NaN, 2),
    mean: round(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length), 2),
  };
}

let runtimeInstalled = false;
/** Core (Rust) logs at ERROR only: the benchmark's own progress lines stay readable. */
export function quietRuntime() {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { forward: {}, filter: makeTelemetryFilterString({ core: 'ERROR' }) } },
  });
}

export interface Postgres {
  /** The app's login role, as deployed (the services run with NODE_ENV=production, which refuses the owner). */
  databaseUrl: string;
  /** The owner the migrations ran as. */
  ownerDatabaseUrl: string;
  stop: () => Promise<void>;
}

/**
 * A throwaway embedded PostgreSQL with the committed migrations applied as the owner and the
 * app's login role created, as a deployment has them (docs/runbook.md, "Database roles").
 */
export async function startPostgres(tmp: string, name = 'pg'): Promise<Postgres> {
  const pg = await startEmbeddedPostgres({ dataDir: path.join(tmp, name), persistent: false });
  execFileSync(path.join(projectRoot, 'node_modules', '.bin', 'prisma'), ['migrate', 'deploy'], {
    cwd: projectRoot,
    env: { ...process.env, DATABASE_URL: undefined, MIGRATION_DATABASE_URL: pg.databaseUrl },
    stdio: 'ignore',
  });
  const databaseUrl = withCredentials(pg.databaseUrl, 'billing_service', randomBytes(24).toString('hex'));
  await ensureAppLoginRole({ adminUrl: pg.databaseUrl, appUrl: databaseUrl });
  return { databaseUrl, ownerDatabaseUrl: pg.databaseUrl, stop: pg.stop };
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** The Temporal CLI dev server (in memory) with this service's search attributes registered. */
export async function startDevServer(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  return TestWorkflowEnvironment.createLocal({
    server: { executable: temporalCliExecutable(), searchAttributes: SEARCH_ATTRIBUTES },
  });
}

export async function startTimeSkippingServer(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  return startTimeSkippingEnvironment();
}

/** Environment of the service's own processes (worker, HTTP service) against these servers. */
export function serviceEnv(options: {
  databaseUrl: string;
  temporalAddress: string;
  taskQueue: string;
  extra?: Record<string, string>;
}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DATABASE_URL: options.databaseUrl,
    TEMPORAL_ADDRESS: options.temporalAddress,
    TEMPORAL_TASK_QUEUE: options.taskQueue,
    INTERNAL_API_TOKEN: INTERNAL_TOKEN,
    ADMIN_TOKEN,
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    // Nothing else on this machine may hold these ports; the benchmarks read no metrics.
    WORKER_METRICS_ADDRESS: 'off',
    WORKER_SERVICE_METRICS_ADDRESS: 'off',
    STALENESS_CHECK_INTERVAL_SECONDS: '0',
    ...options.extra,
  };
}

export interface ChildService {
  child: ChildProcess;
  pid: number;
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop: (graceMs?: number) => Promise<void>;
  kill: () => Promise<void>;
  output: () => string;
}

/**
 * `node --import tsx <entry>` with `env`; resolves once a stdout/stderr line matches `ready`
 * (the worker logs "worker polling", the HTTP service "Server listening").
 */
/**
 * `node ...nodeFlags --import tsx <entry> ...args`, resolved once `ready` (output pattern or
 * probe) holds.
 */
export function spawnService(
  entry: string,
  env: NodeJS.ProcessEnv,
  ready: RegExp | (() => Promise<boolean>),
  timeoutMs = 120_000,
  args: string[] = [],
  nodeFlags: readonly string[] = [],
) {
  return new Promise<ChildService>((resolve, reject) => {
    // To see where a service spends its time: BENCH_SERVICE_NODE_FLAGS='--cpu-prof
    // --cpu-prof-dir=/tmp/prof' npm run bench -- … writes a profile per process at its exit.
    const extraFlags = process.env.BENCH_SERVICE_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];
    const child = spawn(process.execPath, [...nodeFlags, ...extraFlags, '--import', 'tsx', entry, ...args], {
      cwd: projectRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    let resolved = false;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const markReady = () => {
      if (resolved) return;
      resolved = true;
      clearTimeout(timer);
      resolve(service);
    };
    const onData = (chunk: Buffer) => {
      // Only the tail is kept: a long run must not grow memory in the driver.
      log = (log + chunk.toString()).slice(-20_000);
      if (ready instanceof RegExp && ready.test(log)) markReady();
    };
    if (typeof ready === 'function') {
      void (async () => {
        while (!resolved && child.exitCode === null) {
          if (await ready().catch(() => false)) markReady();
          else await sleep(200);
        }
      })();
    }
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${entry} not ready after ${timeoutMs} ms:\n${log.slice(-3000)}`));
    }, timeoutMs);
    void exited.then((code) => {
      if (!resolved) {
        clearTimeout(timer);
        reject(new Error(`${entry} exited (code ${code}) before it was ready:\n${log.slice(-3000)}`));
      }
    });
    const service: ChildService = {
      child,
      pid: child.pid!,
      exited,
      output: () => log,
      async stop(graceMs = 15_000) {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timeout = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timeout);
      },
      async kill() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGKILL');
        await exited;
      },
    };
  });
}

export const WORKER_READY = /worker polling/;
/** The HTTP service answers /healthz (it logs nothing at LOG_LEVEL=warn). */
export const httpReady = (port: number) => async () => {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`);
  return response.ok;
};

/** Resident set size of a process, from /proc (Linux), in MB. */
export function rssMb(pid: number): number | null {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match ? round(Number(match[1]) / 1024, 1) : null;
  } catch {
    return null;
  }
}

/** CPU time (user + system) a process has used so far, from /proc (Linux), in ms. */
export function cpuMs(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces): utime is the 12th, stime the 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

/** Samples a process's RSS every `everyMs` until stopped; returns the peak and the last value. */
export function sampleRss(pid: number, everyMs = 500) {
  let peak = 0;
  let last: number | null = null;
  const timer = setInterval(() => {
    const value = rssMb(pid);
    if (value !== null) {
      last = value;
      peak = Math.max(peak, value);
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return { peakMb: peak, lastMb: last };
    },
  };
}

/**
 * Closed loop: `concurrency` callers each take the next index and await `call(i)`. Latency is
 * per call; throughput is completed calls over the wall time of the whole batch.
 */
export async function closedLoop(
  count: number,
  concurrency: number,
  call: (i: number) => Promise<boolean>,
  onProgress?: (done: number) => void,
) {
  const latencies: number[] = [];
  let next = 0;
  let ok = 0;
  let failed = 0;
  let done = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      for (;;) {
        const i = next++;
        if (i >= count) return;
        const t0 = performance.now();
        let good = false;
        try {
          good = await call(i);
        } catch {
          good = false;
        }
        latencies.push(performance.now() - t0);
        if (good) ok++;
        else failed++;
        done++;
        if (onProgress && done % 500 === 0) onProgress(done);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    count,
    ok,
    failed,
    seconds: round(seconds, 2),
    throughputPerSecond: round(ok / seconds, 1),
    latencyMs: latencySummary(latencies),
    /** Raw per-call latencies, to combine batches; not for the report. */
    latencies,
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  options: { timeoutMs: number; everyMs?: number; onPoll?: (value: T) => void },
): Promise<{ value: T; met: boolean }> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const value = await read();
    options.onPoll?.(value);
    if (done(value)) return { value, met: true };
    if (Date.now() > deadline) return { value, met: false };
    await sleep(options.everyMs ?? 1000);
  }
}

/** The headers Stripe sends with `body`, signed now (a signature's timestamp must be recent). */
export function stripeDeliveryHeaders(body: string, secret: string): http.OutgoingHttpHeaders {
  return { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': signPayload(body, secret) };
}

/**
 * One POST to the service's webhook over `agent` (keep-alive, like Stripe's deliveries). A
 * refused or reset connection answers status 0: a failed delivery, as Stripe counts it.
 */
export function postWebhook(
  agent: http.Agent,
  port: number,
  body: string | Buffer,
  headers: http.OutgoingHttpHeaders,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    const request = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/webhooks/stripe',
        method: 'POST',
        agent,
        headers: { ...headers, 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (c: Buffer) => chunks.push(c));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString() }),
        );
      },
    );
    request.on('error', () => resolve({ status: 0, text: '' }));
    request.end(body);
  });
}
