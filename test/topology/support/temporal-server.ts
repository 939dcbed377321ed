// The real Temporal server (built by `node scripts/bootstrap.mjs --for topology`) on PostgreSQL:
// its config is the module's own PostgreSQL template with every port moved to a free one, the
// database reached as docker-compose.yml's user, and docker-compose.yml's dynamic config.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { freePort } from '../../../src/dev/embedded-postgres.js';
import { projectRoot } from '../../../src/dev/toolchain.js';
import { TEMPORAL_VERSIONS } from './compose-setup.js';

export interface TemporalServerTools {
  version: string;
  server: string;
  sqlTool: string;
  schemaDir: string;
  configTemplate: string;
}

/**
 * Where `node scripts/bootstrap.mjs --for topology` puts the server: .tools/temporal-server-<version>/
 * (the version is checked against the bootstrap's by test/unit/topology-compose.test.ts).
 */
export function temporalServerTools(version: string = TEMPORAL_VERSIONS.builtModule): TemporalServerTools {
  const dir = path.join(projectRoot, '.tools', `temporal-server-${version}`);
  const tools = {
    version,
    server: path.join(dir, 'bin', 'temporal-server'),
    sqlTool: path.join(dir, 'bin', 'temporal-sql-tool'),
    schemaDir: path.join(dir, 'schema'),
    configTemplate: path.join(dir, 'config', 'development-postgres12.yaml'),
  };
  if (!fs.existsSync(tools.server) || !fs.existsSync(tools.sqlTool)) {
    throw new Error(
      `no Temporal server ${version} in ${dir}: run \`node scripts/bootstrap.mjs --for topology\` (npm run test:topology does)`,
    );
  }
  return tools;
}

export interface TemporalServerConfig {
  /** --root of the server: config/development.yaml is under it. */
  root: string;
  frontendAddress: string;
}

/**
 * The server records its membership port in a SMALLINT column: the system's ephemeral ports
 * (above 32767) do not fit, so these come from below.
 */
async function freeMembershipPort(): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const candidate = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const probe = net.createServer();
      probe.once('error', () => resolve(false));
      probe.listen(candidate, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (free) return candidate;
  }
  throw new Error('no free port between 20000 and 32000 for the server membership');
}

/** config/development.yaml under `root`, from the module's development-postgres12.yaml. */
export async function writeServerConfig(options: {
  tools: TemporalServerTools;
  root: string;
  postgresPort: number;
  user: string;
  password: string;
}): Promise<TemporalServerConfig> {
  const doc = parseDocument(fs.readFileSync(options.tools.configTemplate, 'utf8'));
  const port = async (at: (string | number)[], pick: () => Promise<number> = freePort) => {
    if (!doc.hasIn(at)) throw new Error(`the server's config template has no ${at.join('.')}`);
    const free = await pick();
    doc.setIn(at, free);
    return free;
  };
  let frontendPort = 0;
  for (const service of ['frontend', 'matching', 'history', 'worker']) {
    const p = await port(['services', service, 'rpc', 'grpcPort']);
    if (service === 'frontend') frontendPort = p;
    await port(['services', service, 'rpc', 'membershipPort'], freeMembershipPort);
  }
  await port(['services', 'frontend', 'rpc', 'httpPort']);
  await port(['global', 'pprof', 'port']);
  doc.setIn(['global', 'metrics', 'prometheus', 'listenAddress'], `127.0.0.1:${await freePort()}`);
  for (const store of ['postgres-default', 'postgres-visibility']) {
    const sql = ['persistence', 'datastores', store, 'sql'];
    doc.setIn([...sql, 'connectAddr'], `127.0.0.1:${options.postgresPort}`);
    doc.setIn([...sql, 'user'], options.user);
    doc.setIn([...sql, 'password'], options.password);
  }
  const frontendAddress = `127.0.0.1:${frontendPort}`;
  doc.setIn(['clusterMetadata', 'clusterInformation', 'active', 'rpcAddress'], frontendAddress);
  doc.setIn(
    ['dynamicConfigClient', 'filepath'],
    path.join(projectRoot, 'deploy', 'temporal', 'dynamicconfig.yaml'),
  );
  doc.setIn(['log', 'level'], 'warn');
  fs.mkdirSync(path.join(options.root, 'config'), { recursive: true });
  fs.writeFileSync(path.join(options.root, 'config', 'development.yaml'), doc.toString());
  return { root: options.root, frontendAddress };
}

export interface RunningProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop: (graceMs?: number) => Promise<void>;
}

/** Any executable, its output's tail kept for diagnostics. */
export function runProcess(command: string, args: string[], env: NodeJS.ProcessEnv): RunningProcess {
  const child = spawn(command, args, { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    output: () => log,
    async stop(graceMs = 20_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** `temporal-server --root … --config config --env development start`: returns at once. */
export function startTemporalServer(
  tools: TemporalServerTools,
  config: TemporalServerConfig,
): RunningProcess {
  return runProcess(
    tools.server,
    ['--root', config.root, '--config', 'config', '--env', 'development', '--allow-no-auth', 'start'],
    { PATH: process.env.PATH, HOME: process.env.HOME },
  );
}

/** Runs a shell script to the end; rejects with its output when it fails or outlasts `timeoutMs`. */
export async function runScript(script: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  const proc = runProcess('/bin/sh', ['-c', script], env);
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), timeoutMs);
  const code = await proc.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`script failed (exit ${code}):\n${proc.output().slice(-4000)}`);
  return proc.output();
}
