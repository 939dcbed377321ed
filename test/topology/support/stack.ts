// The production shape on one machine, as docker-compose.yml describes it, without containers:
// PostgreSQL; Temporal's two databases created and migrated by the compose file's own
// `temporal-schema` script; the real Temporal server on them; the namespace and search
// attributes by the compose file's `temporal-setup` script; the app's migrations as the owner and
// its login role (compose's `migrate` and `db-app-role`); then two workers and two HTTP services
// of this project, connected as that role. Every part can be restarted in place.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { httpReady, spawnService, type ChildService } from '../../../bench/lib.js';
import { freePort } from '../../../src/dev/embedded-postgres.js';
import { projectRoot, temporalCliExecutable } from '../../../src/dev/toolchain.js';
import { WORKER_NODE_FLAGS } from '../../../src/platform/temporal/worker-factory.js';
import { ensureAppLoginRole, withCredentials } from '../../../src/platform/database-roles.js';
import { startPostgresProcess, workerEnv, type PostgresProcess } from '../../faults/support/processes.js';
import { composeDatabaseUser, schemaScript, setupScript } from './compose-setup.js';
import {
  runScript,
  startTemporalServer,
  temporalServerTools,
  writeServerConfig,
  type RunningProcess,
  type TemporalServerConfig,
  type TemporalServerTools,
} from './temporal-server.js';

const run = promisify(execFile);
const say = (message: string) => process.stderr.write(`[topology] ${message}\n`);
export { say };

/** The password of docker-compose.yml's database user, here. */
const TEMPORAL_DB_PASSWORD = 'topology-temporal-password';

export interface Stack {
  tmp: string;
  tools: TemporalServerTools;
  temporalAddress: string;
  databaseUrl: string;
  /** The `temporal` CLI against this server (`temporal <args> --address …`). */
  temporal(args: string[]): Promise<string>;
  /** `billing <args>` (src/cli/main.ts) with the services' environment; resolves stdout and the exit code. */
  billing(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  workers: ChildService[];
  https: { service: ChildService; port: number }[];
  /** What each worker printed up to "worker polling", one entry per start. */
  workerStarts: string[];
  restartWorker(i: number): Promise<void>;
  restartHttp(i: number): Promise<void>;
  restartTemporal(): Promise<number>;
  restartPostgres(): Promise<number>;
  /** What docker-compose.yml's scripts printed: at first start, and again after the server restart. */
  setupOutput: { schema: string; setup: string; setupAgain?: string };
  close(): Promise<void>;
}

/** `work`, unless the server exits first: then its output says why. */
async function whileServing<T>(server: RunningProcess, work: Promise<T>): Promise<T> {
  const died = server.exited.then((code) => {
    throw new Error(`the Temporal server exited (code ${code}):\n${server.output().slice(-3000)}`);
  });
  try {
    return await Promise.race([work, died]);
  } catch (error) {
    if (server.child.exitCode === null) {
      throw new Error(`${String(error)}\nserver output:\n${server.output().slice(-3000)}`);
    }
    throw error;
  } finally {
    died.catch(() => {});
  }
}

export async function startStack(options: {
  tmp: string;
  taskQueue: string;
  extraEnv: Record<string, string>;
}): Promise<Stack> {
  const { tmp } = options;
  const tools = temporalServerTools();
  const temporalCli = temporalCliExecutable();
  if (temporalCli.type !== 'existing-path') throw new Error('no temporal CLI installed: run the bootstrap');
  const temporalCliPath = temporalCli.path;

  // What is running so far, stopped in reverse if the stack does not come up.
  const started: (() => Promise<void>)[] = [];
  try {
    return await bringUp();
  } catch (error) {
    for (const stop of started.reverse()) await stop().catch(() => {});
    throw error;
  }

  async function bringUp(): Promise<Stack> {
    // One PostgreSQL for the app and Temporal, as docker-compose.yml has it.
    const pgDir = path.join(tmp, 'pg');
    const pgPort = await freePort();
    let postgres: PostgresProcess = await startPostgresProcess(pgDir, pgPort);
    started.push(() => postgres.stop());
    const dbUser = composeDatabaseUser();
    const admin = new pg.Client({
      connectionString: postgres.databaseUrl.replace(/\/billing$/, '/postgres'),
    });
    await admin.connect();
    await admin.query(
      `CREATE ROLE ${admin.escapeIdentifier(dbUser)} LOGIN CREATEDB PASSWORD '${TEMPORAL_DB_PASSWORD}'`,
    );
    await admin.end();

    // The compose scripts find `temporal-sql-tool` and `temporal` on PATH, as in admin-tools.
    const bin = path.join(tmp, 'bin');
    fs.mkdirSync(bin);
    fs.symlinkSync(tools.sqlTool, path.join(bin, 'temporal-sql-tool'));
    fs.symlinkSync(temporalCliPath, path.join(bin, 'temporal'));
    const scriptPath = `${bin}:${process.env.PATH}`;

    say(
      `PostgreSQL on 127.0.0.1:${pgPort}; creating Temporal's databases with docker-compose.yml's temporal-schema`,
    );
    const schema = await runScript(
      schemaScript({ postgresPort: pgPort, schemaDir: tools.schemaDir }),
      { PATH: scriptPath, HOME: process.env.HOME, SQL_PASSWORD: TEMPORAL_DB_PASSWORD },
      120_000,
    );

    const config: TemporalServerConfig = await writeServerConfig({
      tools,
      root: path.join(tmp, 'temporal'),
      postgresPort: pgPort,
      user: dbUser,
      password: TEMPORAL_DB_PASSWORD,
    });
    let server: RunningProcess = startTemporalServer(tools, config);
    started.push(() => server.stop());
    const temporalAddress = config.frontendAddress;
    say(
      `Temporal server ${tools.version} starting on ${temporalAddress}; docker-compose.yml's temporal-setup`,
    );
    const setupEnv = { PATH: scriptPath, HOME: process.env.HOME, TEMPORAL_ADDRESS: temporalAddress };
    const setup = await whileServing(server, runScript(setupScript(), setupEnv, 180_000));

    // As compose's migrate and db-app-role: the migrations as the owner, the services as the
    // app's own login role.
    await run(path.join(projectRoot, 'node_modules', '.bin', 'prisma'), ['migrate', 'deploy'], {
      cwd: projectRoot,
      env: { ...process.env, DATABASE_URL: undefined, MIGRATION_DATABASE_URL: postgres.databaseUrl },
    });
    const appDatabaseUrl = withCredentials(
      postgres.databaseUrl,
      'billing_service',
      randomBytes(24).toString('hex'),
    );
    await ensureAppLoginRole({ adminUrl: postgres.databaseUrl, appUrl: appDatabaseUrl });

    const serviceEnv = (extra: Record<string, string> = {}) =>
      workerEnv({
        databaseUrl: appDatabaseUrl,
        temporalAddress,
        taskQueue: options.taskQueue,
        extra: { TEMPORAL_NAMESPACE: 'default', ...options.extraEnv, ...extra },
      });
    const workerStarts: string[] = [];
    const startWorker = async () => {
      // As deployed (WORKER_NODE_FLAGS); bundling the workflow code at start is slow on a busy machine.
      const worker: ChildService = await spawnService(
        path.join('src', 'worker.ts'),
        serviceEnv(),
        /worker polling/,
        300_000,
        [],
        WORKER_NODE_FLAGS,
      );
      workerStarts.push(worker.output());
      started.push(() => worker.stop());
      return worker;
    };
    const startHttp = async (port: number) => {
      const service = await spawnService(
        path.join(projectRoot, 'src', 'api', 'main.ts'),
        serviceEnv({ HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn' }),
        httpReady(port),
      );
      started.push(() => service.stop());
      return { port, service };
    };
    // Both workers at once: each ensures the reconciliation Schedule at start.
    const workers = await Promise.all([startWorker(), startWorker()]);
    const https = await Promise.all([startHttp(await freePort()), startHttp(await freePort())]);
    say(
      `two workers (pids ${workers.map((w) => w.pid).join(', ')}), two HTTP services (ports ${https.map((h) => h.port).join(', ')})`,
    );

    const stack: Stack = {
      tmp,
      tools,
      temporalAddress,
      // The app's role (the port and the role survive a PostgreSQL restart).
      databaseUrl: appDatabaseUrl,
      async temporal(args) {
        const { stdout } = await run(
          temporalCliPath,
          [...args, '--address', temporalAddress, '--namespace', 'default'],
          {
            env: { PATH: process.env.PATH, HOME: process.env.HOME },
          },
        );
        return stdout;
      },
      billing(args) {
        return new Promise((resolve) => {
          execFile(
            process.execPath,
            ['--import', 'tsx', path.join(projectRoot, 'src', 'cli', 'main.ts'), ...args],
            { cwd: projectRoot, env: serviceEnv({ LOG_LEVEL: 'warn' }) },
            (error, stdout, stderr) =>
              resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
          );
        });
      },
      workers,
      https,
      workerStarts,
      async restartWorker(i) {
        // SIGTERM: the worker stops polling and finishes what it runs (WORKER_SHUTDOWN_GRACE_SECONDS).
        await workers[i]!.stop(60_000);
        workers[i] = await startWorker();
      },
      async restartHttp(i) {
        const { port, service } = https[i]!;
        await service.stop(20_000);
        https[i] = await startHttp(port);
      },
      async restartTemporal() {
        const stoppedAt = Date.now();
        await server.stop(30_000);
        server = startTemporalServer(tools, config);
        // The compose setup script again: it waits for the server and finds everything in place.
        const again = await whileServing(server, runScript(setupScript(), setupEnv, 180_000));
        stack.setupOutput.setupAgain = again;
        return Date.now() - stoppedAt;
      },
      async restartPostgres() {
        const stoppedAt = Date.now();
        await postgres.stop();
        postgres = await startPostgresProcess(pgDir, pgPort);
        return Date.now() - stoppedAt;
      },
      setupOutput: { schema, setup },
      async close() {
        await Promise.allSettled([...https.map((h) => h.service.stop()), ...workers.map((w) => w.stop())]);
        await server.stop();
        await postgres.stop();
      },
    };
    return stack;
  }
}
