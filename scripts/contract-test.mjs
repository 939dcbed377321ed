#!/usr/bin/env node
// `npm run test:contract`: the published API contract, fuzzed. Starts the dev stack (`npm run
// dev`'s src/dev/main.ts: embedded PostgreSQL, the Temporal dev server, a worker, the HTTP
// service) on free ports with a fresh data folder and its own tokens, then runs Schemathesis
// against GET /openapi.json with every check, once per token the service knows and once with
// none, each run with a fresh random seed (printed, so a failure can be replayed). Any failure
// fails the whole check. Schemathesis comes from PyPI into a venv under .tools/ (once).
//
// Replay one run: SCHEMATHESIS_SEED=<seed> CONTRACT_TOKENS=<name> npm run test:contract
// More or fewer cases per operation: CONTRACT_MAX_EXAMPLES (default below).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { clearTimeout, setTimeout } from 'node:timers';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SCHEMATHESIS = 'schemathesis==4.32.5';
const venv = path.join(root, '.tools', `schemathesis-${SCHEMATHESIS.split('==')[1]}`);
const MAX_EXAMPLES = Number(process.env.CONTRACT_MAX_EXAMPLES || 40);

const say = (message) => process.stdout.write(`[contract] ${message}\n`);
function fail(message) {
  process.stderr.write(`\n[contract] ✖ ${message}\n\n`);
  process.exit(1);
}

/** Schemathesis in its own venv; the marker file is written last, so a half install is redone. */
function ensureSchemathesis() {
  const binary = path.join(venv, 'bin', 'schemathesis');
  const marker = path.join(venv, '.installed');
  if (fs.existsSync(marker) && fs.existsSync(binary)) return binary;
  say(`installing ${SCHEMATHESIS} from PyPI into ${path.relative(root, venv)}/ (once)`);
  fs.rmSync(venv, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(venv), { recursive: true });
  const made = spawnSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
  if (made.status !== 0) {
    fail('python3 -m venv failed: install Python 3 with venv (Debian: apt-get install python3-venv)');
  }
  const pip = spawnSync(
    path.join(venv, 'bin', 'python'),
    ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', SCHEMATHESIS],
    { stdio: 'inherit' },
  );
  if (pip.status !== 0) fail(`pip could not install ${SCHEMATHESIS} (see above)`);
  fs.writeFileSync(marker, `${SCHEMATHESIS}\n`);
  return binary;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function distinctFreePorts(count) {
  const ports = new Set();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

const secret = (prefix) => `${prefix}-${randomBytes(24).toString('hex')}`;

// Every bearer token the service accepts, by scope, and the variable that configures it.
const TOKENS = [
  { name: 'internal', variable: 'INTERNAL_API_TOKEN' },
  { name: 'controller', variable: 'CONTROLLER_API_TOKEN' },
  { name: 'portal', variable: 'PORTAL_API_TOKEN' },
  { name: 'admin', variable: 'ADMIN_TOKEN' },
];

async function main() {
  const bootstrap = spawnSync(
    process.execPath,
    [path.join(root, 'scripts', 'bootstrap.mjs'), '--for', 'dev'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  if (bootstrap.status !== 0) fail('bootstrap failed (see above)');
  const schemathesis = ensureSchemathesis();

  const [port, postgresPort, temporalPort, uiPort] = await distinctFreePorts(4);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'billing-contract-'));
  // As root, PostgreSQL runs as its own user, which must reach the data folder.
  fs.chmodSync(dataDir, 0o755);
  const tokens = Object.fromEntries(TOKENS.map((t) => [t.variable, secret(`contract-${t.name}`)]));
  const webhookSecret = `whsec_${randomBytes(24).toString('hex')}`;
  const env = {
    ...process.env,
    ...tokens,
    STRIPE_WEBHOOK_SECRET: webhookSecret,
    NODE_ENV: 'development',
    DEV_DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    PORT: String(port),
    DEV_POSTGRES_PORT: String(postgresPort),
    TEMPORAL_DEV_PORT: String(temporalPort),
    TEMPORAL_UI_PORT: String(uiPort),
    LOG_LEVEL: process.env.LOG_LEVEL || 'warn',
    // Every case comes from 127.0.0.1, and the runs without a (valid) token fail authentication
    // by the thousand: at the default limit nearly every later case would meet the 429 (which the
    // document lists) instead of the route. The limits themselves are tested in
    // test/unit/http-rate-limits.test.ts and test/integration/http-scopes.test.ts.
    AUTH_FAILURES_PER_MINUTE: '1000000',
    RATE_LIMIT_PER_MINUTE: '1000000',
  };
  for (const name of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'PUBLIC_PORT']) delete env[name];

  const logFile = path.join(dataDir, 'stack.log');
  const log = fs.openSync(logFile, 'a');
  say(`starting the dev stack on 127.0.0.1:${port} (data and log: ${dataDir})`);
  const stack = spawn(process.execPath, ['--import', 'tsx', path.join('src', 'dev', 'main.ts')], {
    cwd: root,
    env,
    stdio: ['ignore', log, log],
  });
  let stackExited = false;
  const exited = new Promise((resolve) => stack.once('exit', () => resolve((stackExited = true))));

  const stop = async () => {
    if (!stackExited) {
      stack.kill('SIGTERM');
      const timer = setTimeout(() => stack.kill('SIGKILL'), 60_000);
      await exited;
      clearTimeout(timer);
    }
  };
  const tail = () => fs.readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n');
  process.on('SIGINT', () => void stop().then(() => process.exit(130)));
  process.on('SIGTERM', () => void stop().then(() => process.exit(143)));

  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (stackExited) fail(`the dev stack exited before it was ready:\n${tail()}`);
    const ready = await globalThis
      .fetch(`${base}/readyz`)
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      fail(`the dev stack was not ready within 5 minutes:\n${tail()}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }

  const wanted = process.env.CONTRACT_TOKENS?.split(',').map((s) => s.trim());
  const runs = [...TOKENS.map((t) => ({ name: t.name, token: tokens[t.variable] })), { name: 'none' }].filter(
    (r) => !wanted || wanted.includes(r.name),
  );
  const results = [];
  for (const run of runs) {
    const seed = process.env.SCHEMATHESIS_SEED
      ? Number(process.env.SCHEMATHESIS_SEED)
      : randomInt(0, 2 ** 31);
    say(`token ${run.name}: schemathesis run --checks all --seed ${seed} --max-examples ${MAX_EXAMPLES}`);
    const args = [
      'run',
      `${base}/openapi.json`,
      '--checks',
      'all',
      '--seed',
      String(seed),
      '--max-examples',
      String(MAX_EXAMPLES),
      '--generation-database',
      'none',
      '--workers',
      '1',
      '--no-color',
      ...(run.token ? ['--header', `Authorization: Bearer ${run.token}`] : []),
    ];
    const started = Date.now();
    const result = spawnSync(schemathesis, args, {
      cwd: dataDir,
      stdio: 'inherit',
      // scripts/contract_hooks.py signs webhook cases like Stripe, with the stack's secret.
      env: {
        ...process.env,
        PYTHONPATH: path.join(root, 'scripts'),
        SCHEMATHESIS_HOOKS: 'contract_hooks',
        PYTHONDONTWRITEBYTECODE: '1',
        CONTRACT_STRIPE_WEBHOOK_SECRET: webhookSecret,
      },
    });
    const passed = result.status === 0;
    results.push({ ...run, seed, passed, seconds: Math.round((Date.now() - started) / 1000) });
    say(
      `token ${run.name}, seed ${seed}: ${passed ? 'no failures' : 'FAILED'} (${results.at(-1).seconds} s); replay: SCHEMATHESIS_SEED=${seed} CONTRACT_TOKENS=${run.name} CONTRACT_MAX_EXAMPLES=${MAX_EXAMPLES} npm run test:contract`,
    );
  }

  await stop();
  if (results.every((r) => r.passed)) fs.rmSync(dataDir, { recursive: true, force: true });
  else say(`the stack's log is kept: ${logFile}`);
  for (const r of results) say(`  ${r.passed ? 'ok    ' : 'FAILED'} token ${r.name} seed ${r.seed}`);
  const failed = results.filter((r) => !r.passed).length;
  process.stdout.write(`contract: ${results.length - failed} passed, ${failed} failed\n`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((error) => fail(error instanceof Error ? (error.stack ?? error.message) : String(error)));
