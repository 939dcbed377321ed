import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { Prisma, PrismaClient } from '../generated/prisma/client.js';

export { Prisma, PrismaClient };

/** Database helpers accept either the client or an interactive transaction. */
export type Db = PrismaClient | Prisma.TransactionClient;

/**
 * What helpers that only run raw SQL need: Prisma's client or transaction, or the plain driver
 * (sqlOn) where Prisma's per-statement cost matters (the webhook's hot path).
 */
export interface RawDb {
  $queryRaw<T = unknown>(query: TemplateStringsArray, ...values: unknown[]): PromiseLike<T>;
  $executeRaw(query: TemplateStringsArray, ...values: unknown[]): PromiseLike<number>;
}

const pools = new WeakMap<PrismaClient, pg.Pool>();

/**
 * Prisma on a node-postgres pool this module owns, so the same connections also serve raw
 * statements sent without Prisma (driverPool): one pool, one connection limit.
 */
export function createPrisma(databaseUrl: string, options: { max?: number } = {}): PrismaClient {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: options.max ?? 10 });
  // PostgreSQL closing an idle connection (a restart, a failover, an administrator) is an 'error'
  // on the pool, which drops that connection; the next query opens another. Unheard, the error
  // would end the process. (Prisma listens too, but only once it has connected.)
  pool.on('error', () => undefined);
  const client = new PrismaClient({ adapter: new PrismaPg(pool, { disposeExternalPool: true }) });
  pools.set(client, pool);
  return client;
}

/** The node-postgres pool under a client made by createPrisma. */
export function driverPool(db: PrismaClient): pg.Pool {
  const pool = pools.get(db);
  if (!pool) throw new Error('this PrismaClient was not made by createPrisma: it has no driver pool');
  return pool;
}

// timestamp(3) without time zone holds UTC here (as Prisma writes it): read it as UTC, whatever
// the process's time zone (node-postgres would read it as local time).
const TIMESTAMP_WITHOUT_TIME_ZONE = 1114;
const utcDate = (value: string) => new Date(`${value.replace(' ', 'T')}Z`);
const driverTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary'): unknown =>
    oid === TIMESTAMP_WITHOUT_TIME_ZONE
      ? utcDate
      : (pg.types.getTypeParser as (o: number, f?: string) => unknown)(
          oid,
          format,
        )) as typeof pg.types.getTypeParser,
};

/**
 * Raw statements straight through node-postgres, with Prisma's tagged-template parameters. About
 * a tenth of the CPU of the same statement through Prisma's client (which costs ~0.5 ms each),
 * for the statements every webhook delivery sends.
 */
export function sqlOn(client: pg.Pool | pg.PoolClient): RawDb {
  const run = (strings: TemplateStringsArray, values: unknown[]) => {
    const query = Prisma.sql(strings, ...values);
    return client.query({ text: query.text, values: query.values, types: driverTypes });
  };
  return {
    $queryRaw: async <T>(strings: TemplateStringsArray, ...values: unknown[]) =>
      (await run(strings, values)).rows as T,
    $executeRaw: async (strings: TemplateStringsArray, ...values: unknown[]) =>
      (await run(strings, values)).rowCount ?? 0,
  };
}

/**
 * BEGIN … COMMIT on one pooled connection; rolled back (or the connection dropped) on error.
 * `prelude` adds statements to the BEGIN's own round trip (the simple-query protocol sends them
 * in one message; each still takes its own snapshot, so a read after a lock sees what the lock's
 * previous holder committed). Its values must be literals made with `literal`; `work` gets each
 * prelude statement's rows.
 */
export async function driverTransaction<T>(
  pool: pg.Pool,
  work: (tx: RawDb, prelude: unknown[][]) => Promise<T>,
  prelude?: (literal: (value: string) => string) => string[],
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // A connection lost while checked out is an 'error' on the client (the pool listens only to
  // idle ones): the statement in flight fails with it, and the connection is not reused.
  const onLost = (error: Error) => {
    broken = error;
  };
  client.on('error', onLost);
  try {
    const statements = prelude?.((value) => client.escapeLiteral(value)) ?? [];
    const results = (await client.query({
      text: ['BEGIN', ...statements].join('; '),
      types: driverTypes,
    })) as unknown as pg.QueryResult | pg.QueryResult[];
    const rows = Array.isArray(results) ? results.slice(1).map((r) => r.rows as unknown[]) : [];
    const result = await work(sqlOn(client), rows);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: unknown) => {
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    });
    throw error;
  } finally {
    client.removeListener('error', onLost);
    client.release(broken);
  }
}

/**
 * A timestamp parameter for raw SQL, in UTC like the columns Prisma writes (timestamp(3) without
 * time zone), whatever the session's TimeZone.
 */
export const utcTimestamp = (date: Date) =>
  Prisma.sql`(${date.toISOString()}::timestamptz AT TIME ZONE 'UTC')`;

export function isUniqueViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002';
}

// PostgreSQL's codes for "the server ended this connection" (admin shutdown, crash, restart).
const SERVER_ENDED_CONNECTION = new Set(['57P01', '57P02', '57P03']);

function isPostgresDisconnect(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return (
    (typeof code === 'string' && SERVER_ENDED_CONNECTION.has(code)) ||
    error.message === 'Connection terminated unexpectedly'
  );
}

/**
 * node-postgres emits a dropped connection as an `error` event on its client; when that client
 * is checked out of the pool between two queries, nobody listens, and Node turns the event into
 * an uncaught exception — a PostgreSQL restart would take the worker or the HTTP service down
 * with it. The pool discards the dead client and reconnects on the next query, so exactly this
 * error is logged and survived; every other uncaught exception still ends the process.
 */
export function surviveDatabaseRestarts(log: (message: string) => void): void {
  process.on('uncaughtException', (error) => {
    if (isPostgresDisconnect(error)) {
      log(`PostgreSQL closed a connection (${error.message}); the pool reconnects`);
      return;
    }
    process.stderr.write(`uncaught exception: ${error.stack ?? String(error)}\n`);
    process.exit(1);
  });
}
