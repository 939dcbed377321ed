// What every CLI command shares: configuration (only what the CLI uses), lazily opened
// PostgreSQL and Temporal connections, output streams, and exit codes that scripts can rely on.
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ConfigError, loadConfig, type Config } from '../platform/config.js';
import { createPrisma, type PrismaClient } from '../platform/database.js';
import { connectClient } from '../platform/temporal/connection.js';
import { createLadderClient, type LadderClient } from '../ladder/client.js';
import { HINTS, postgresAddress, reasonOf } from '../platform/dependencies.js';
import { notificationTaskQueuesFor } from '../workflows/definitions.js';
import { type ServicePolicy } from '../accounts/read-model.js';

/** Exit codes (documented in `billing --help`). */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 3,
  rejected: 4,
  dataError: 65,
  unavailable: 69,
  config: 78,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export interface Output {
  write(chunk: string): unknown;
}

/** The dependencies a command's core needs; tests pass their own. */
export interface CliDeps {
  db: PrismaClient;
  ladder: Pick<LadderClient, 'status' | 'update'>;
  /** The service's policy, for the account's read model (minimum amount, mode outside a ladder). */
  policy: ServicePolicy;
  /** Results (text or JSON). */
  out: Output;
  /** Progress and warnings, so `--json` output on stdout stays parseable. */
  err: Output;
}

export const println = (stream: Output, line = '') => stream.write(`${line}\n`);
export const printJson = (stream: Output, value: unknown) =>
  stream.write(`${JSON.stringify(value, null, 2)}\n`);

// The CLI never serves the HTTP API or verifies webhooks: it must not need (or leak) those
// secrets, so placeholders stand in for them during validation.
const UNUSED_SECRETS = {
  INTERNAL_API_TOKEN: 'cli-does-not-use-the-internal-token',
  ADMIN_TOKEN: 'cli-does-not-use-the-admin-token-00',
  STRIPE_WEBHOOK_SECRET: 'whsec_cli_does_not_use_it',
};

export function loadCliConfig(source: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig({ ...source, ...UNUSED_SECRETS }, { serviceSecrets: false });
}

/** Maps the errors of Temporal and PostgreSQL clients to a message and an exit code. */
export function describeFailure(error: unknown): { message: string; exitCode: number } {
  if (error instanceof CliError) return { message: error.message, exitCode: error.exitCode };
  if (error instanceof ConfigError) return { message: error.message, exitCode: EXIT.config };
  if (error instanceof WorkflowNotFoundError) {
    return { message: 'no running enforcement ladder for this account', exitCode: EXIT.notFound };
  }
  if (error instanceof WorkflowUpdateFailedError) {
    return {
      message: `rejected by the workflow: ${error.cause?.message ?? error.message}`,
      exitCode: EXIT.rejected,
    };
  }
  // Prisma's messages quote the calling code over many lines; the last line says what happened.
  const lastLine = (error instanceof Error ? error.message : String(error))
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .at(-1);
  const text = error instanceof Error ? `${error.name}: ${lastLine ?? ''}` : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  if (
    code === 'ECONNREFUSED' ||
    /ECONNREFUSED|Can't reach database|connect|UNAVAILABLE|Failed to connect/i.test(text)
  ) {
    return { message: `a dependency is unavailable: ${text}`, exitCode: EXIT.unavailable };
  }
  return { message: text, exitCode: EXIT.failure };
}

/** Connects to Temporal, or stops the command with one line and exit code 69. */
export async function connectTemporal(config: Config): Promise<Client> {
  try {
    return await connectClient(config.env);
  } catch (error) {
    const address = config.env.TEMPORAL_ADDRESS;
    throw new CliError(
      `cannot reach Temporal at ${address} (${reasonOf(error)}): ${HINTS.Temporal(address)}`,
      EXIT.unavailable,
    );
  }
}

/** The ladder client the services use, on the configured task queue and policy. */
export function cliLadderClient(config: Config, client: Client): LadderClient {
  return createLadderClient({
    client,
    taskQueue: config.env.TEMPORAL_TASK_QUEUE,
    policy: config.policy,
    notificationTaskQueues: notificationTaskQueuesFor(config.env.TEMPORAL_TASK_QUEUE),
  });
}

/**
 * Builds the real dependencies for one command run and closes them afterwards. Temporal is only
 * connected when a command asks the ladder something.
 */
export async function withRealDeps(run: (deps: CliDeps) => Promise<void>): Promise<void> {
  const config = loadCliConfig();
  const db = createPrisma(config.env.DATABASE_URL, { max: 2 });
  let client: Client | undefined;
  let ladder: LadderClient | undefined;
  const getLadder = async () => {
    if (!ladder) {
      client = await connectTemporal(config);
      ladder = cliLadderClient(config, client);
    }
    return ladder;
  };
  try {
    await run({
      db,
      ladder: {
        status: async (accountId) => (await getLadder()).status(accountId),
        update: async (accountId, name, input) => (await getLadder()).update(accountId, name, input),
      },
      policy: config.policy,
      out: process.stdout,
      err: process.stderr,
    }).catch((error: unknown) => {
      throw explainDatabaseFailure(error, config.env.DATABASE_URL);
    });
  } finally {
    await db.$disconnect().catch(() => undefined);
    await client?.connection.close().catch(() => undefined);
  }
}

/** PostgreSQL not there, or there without the billing tables: say where and what to do. */
function explainDatabaseFailure(error: unknown, databaseUrl: string): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  const address = postgresAddress(databaseUrl);
  if (code === 'P1001' || code === 'ECONNREFUSED' || /Can't reach database server/.test(String(error))) {
    return new CliError(
      `cannot reach PostgreSQL at ${address} (${reasonOf(error)}): ${HINTS.PostgreSQL(address)}`,
      EXIT.unavailable,
    );
  }
  if (code === 'P2021') {
    return new CliError(
      `the database at ${address} has no billing tables: apply the migrations (npm run migrate:deploy), or use the one \`npm run dev\` starts`,
      EXIT.unavailable,
    );
  }
  return error;
}

export async function requireAccount(db: PrismaClient, accountId: string) {
  const account = await db.billingAccount.findUnique({ where: { id: accountId }, select: { id: true } });
  if (!account) throw new CliError(`unknown account ${accountId}`, EXIT.notFound);
}

/** Commander option parser for whole numbers. */
export function wholeNumber(name: string, min = 0) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min)
      throw new CliError(`${name} must be a whole number >= ${min}`, EXIT.usage);
    return n;
  };
}
