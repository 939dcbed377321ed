// The gate check's one database read: the account's billing row, by account id or by the vmid of
// one of its servers (BillingAccount, joined from Server).
//
// Raw SQL on a small pool of its own: the gate API answers hundreds of checks a second, and at
// that rate Prisma's query builder costs more CPU than the query itself (bench/gates.ts measures
// both). Named prepared statements let PostgreSQL plan each lookup once per connection. Without a
// database URL (tests that pass only a client) the same statements go through Prisma's raw query.
import pg from 'pg';
import { type PrismaClient } from '../../platform/database.js';
import { type GateAccountRow } from '../../gates/index.js';

export interface GateAccount extends GateAccountRow {
  id: string;
}

/** Primary-key lookup. */
const BY_ID = `SELECT id, state::text AS state, "enforcedState"::text AS "enforcedState",
  "policyDryRun", "backupsBlocked", "enforcementExempt"
  FROM "BillingAccount" WHERE id = $1`;
/** By the unique vmid: one index lookup on Server, one on BillingAccount. */
const BY_VMID = `SELECT a.id, a.state::text AS state, a."enforcedState"::text AS "enforcedState",
  a."policyDryRun", a."backupsBlocked", a."enforcementExempt"
  FROM "Server" s JOIN "BillingAccount" a ON a.id = s."accountId" WHERE s.vmid = $1`;

export interface GateAccountLookup {
  byId(id: string): Promise<GateAccount | null>;
  byVmid(vmid: number): Promise<GateAccount | null>;
  /** Ends the lookup's own pool, if it has one. */
  close(): Promise<void>;
}

/** One row by the primary key or the unique vmid: the whole database cost of a gate check. */
export function createGateAccountLookup(options: {
  db: PrismaClient;
  databaseUrl?: string;
  onPoolError: (error: Error) => void;
}): GateAccountLookup {
  if (!options.databaseUrl) {
    const run = async (sql: string, value: string | number) =>
      (await options.db.$queryRawUnsafe<GateAccount[]>(sql, value))[0] ?? null;
    return {
      byId: (id) => run(BY_ID, id),
      byVmid: (vmid) => run(BY_VMID, vmid),
      close: () => Promise.resolve(),
    };
  }
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 8 });
  pool.on('error', options.onPoolError);
  const run = async (name: string, text: string, value: string | number) =>
    (await pool.query<GateAccount>({ name, text, values: [value] })).rows[0] ?? null;
  return {
    byId: (id) => run('gate_account_by_id', BY_ID, id),
    byVmid: (vmid) => run('gate_account_by_vmid', BY_VMID, vmid),
    close: () => pool.end(),
  };
}
