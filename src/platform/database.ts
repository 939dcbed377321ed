import { PrismaPg } from '@prisma/adapter-pg';
import { Prisma, PrismaClient } from '../generated/prisma/client.js';

export { Prisma, PrismaClient };

/** Database helpers accept either the client or an interactive transaction. */
export type Db = PrismaClient | Prisma.TransactionClient;

export function createPrisma(databaseUrl: string, options: { max?: number } = {}): PrismaClient {
  return new PrismaClient({
    adapter: new PrismaPg({ connectionString: databaseUrl, max: options.max ?? 10 }),
  });
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
