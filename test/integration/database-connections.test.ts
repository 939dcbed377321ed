// PostgreSQL ends connections on its own (a restart, a failover, an administrator): the pool the
// service and Prisma share must survive it, idle or mid-transaction, and serve the next query.
// An 'error' nobody listens to ends a Node process, so vitest fails this file if one escapes.
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createPrisma, driverPool, driverTransaction, sqlOn } from '../../src/platform/database.js';
import { ownerDb } from './support/harness.js';

const prisma = createPrisma(inject('databaseUrl'), { max: 2 });
const pool = driverPool(prisma);
const sql = sqlOn(pool);
afterAll(() => prisma.$disconnect());

const terminate = (pid: number) => ownerDb().$queryRaw`SELECT pg_terminate_backend(${pid}::int)`;
const pidOf = async (db: typeof sql) =>
  (await db.$queryRaw<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`)[0]!.pid;
const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

describe('connections PostgreSQL ends', () => {
  it('an idle pooled connection: dropped, the next query opens another', async () => {
    const client = await pool.connect();
    const pid = await pidOf(sqlOn(client));
    client.release();
    await terminate(pid);
    await settle();
    expect(await pidOf(sql)).not.toBe(pid);
  });

  it('a connection lost inside a transaction: the transaction fails, the connection is not reused', async () => {
    let lost = 0;
    await expect(
      driverTransaction(pool, async (tx) => {
        lost = await pidOf(tx);
        await terminate(lost);
        await settle();
        return pidOf(tx);
      }),
    ).rejects.toThrow();
    await settle();
    expect(await driverTransaction(pool, (tx) => pidOf(tx))).not.toBe(lost);
  });
});
