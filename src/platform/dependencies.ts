// Start-up waits for PostgreSQL and Temporal, bounded, and failures a person can act on: which
// dependency, at which address, what to do — one line, no stack, exit code 69 (EX_UNAVAILABLE,
// documented in docs and `billing --help`). Every process uses these: the dev stack, the worker,
// the HTTP service and the CLI.
import pg from 'pg';
import { roleFacts, type RoleFacts } from './database-roles.js';

export const EXIT_UNAVAILABLE = 69;

export type Dependency = 'PostgreSQL' | 'Temporal';

export class DependencyUnavailableError extends Error {
  constructor(
    readonly dependency: Dependency,
    readonly address: string,
    readonly hint: string,
    readonly reason: string,
  ) {
    super(`cannot reach ${dependency} at ${address} (${reason}): ${hint}`);
    this.name = 'DependencyUnavailableError';
  }
}

/** host:port/database of a PostgreSQL URL, without credentials (safe to print). */
export function postgresAddress(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return '(DATABASE_URL is not a URL)';
  }
}

export const HINTS = {
  PostgreSQL: (address: string) =>
    `is PostgreSQL running at ${address}? Check DATABASE_URL (unset it to let \`npm run dev\` start an embedded PostgreSQL)`,
  Temporal: (address: string) =>
    `is a Temporal server running at ${address}? Check TEMPORAL_ADDRESS (unset it to let \`npm run dev\` start the dev server; TEMPORAL_TLS / TEMPORAL_API_KEY for a secured cluster)`,
} satisfies Record<Dependency, (address: string) => string>;

/** The last line of an error's message: gRPC and Prisma errors span many lines. */
export function reasonOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const refused = /ConnectionRefused|ECONNREFUSED|Connection refused/i.test(text);
  if (refused) return 'connection refused';
  if (/deadline/i.test(text)) return 'no answer before the deadline';
  if (/Can't reach database server/i.test(text)) return 'no answer';
  if (/ENOTFOUND|failed to lookup|Name or service not known/i.test(text)) return 'host not found';
  return (lines.at(-1) ?? 'unknown error').slice(0, 200);
}

/**
 * Tries `attempt` until it succeeds or `timeoutMs` has passed, saying once what it waits for.
 * A dependency that comes up a few seconds after us (compose, systemd, a restart) is waited for;
 * one that does not come up ends the start with a DependencyUnavailableError.
 */
export async function waitForDependency<T>(
  dependency: Dependency,
  address: string,
  attempt: () => Promise<T>,
  options: { timeoutMs: number; say?: (message: string) => void; hint?: string },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let delay = 250;
  let said = false;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() + delay >= deadline) {
        throw new DependencyUnavailableError(
          dependency,
          address,
          options.hint ?? HINTS[dependency](address),
          reasonOf(error),
        );
      }
      if (!said) {
        options.say?.(
          `waiting for ${dependency} at ${address} (up to ${Math.round(options.timeoutMs / 1000)} s): ${reasonOf(error)}`,
        );
        said = true;
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 5_000);
    }
  }
}

/**
 * One query over a short-lived connection: is PostgreSQL there, do the credentials work, and what
 * may the role do (the start-up check that the app does not run as a superuser or the owner)?
 */
export async function pingPostgres(databaseUrl: string): Promise<RoleFacts> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    return await roleFacts(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function waitForPostgres(
  databaseUrl: string,
  options: { timeoutMs: number; say?: (message: string) => void; hint?: string },
): Promise<RoleFacts> {
  return waitForDependency(
    'PostgreSQL',
    postgresAddress(databaseUrl),
    () => pingPostgres(databaseUrl),
    options,
  );
}

/**
 * For process entry points: a dependency that is not there ends the start with one line that
 * says which, where and what to do, and exit code 69; anything else is rethrown.
 */
export function exitIfUnavailable(error: unknown, log: (fields: object, message: string) => void): never {
  if (error instanceof DependencyUnavailableError) {
    log({ dependency: error.dependency, address: error.address, reason: error.reason }, error.message);
    process.exit(EXIT_UNAVAILABLE);
  }
  throw error;
}
