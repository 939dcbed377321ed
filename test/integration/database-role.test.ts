// The app's database role (docs/design.md, "Database roles"): the whole suite connects as a login
// role that is a member of billing_app, the way a deployment does; these tests say what that role
// is, that real work succeeds with it, and that it can do nothing else: no DDL, no TRUNCATE, no
// change to the audit trail or the migration history. The migrations ran as the owner
// (global-setup.ts), which is what `ownerDatabaseUrl` connects as.
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createGateAccountLookup } from '../../src/api/sql/gate-account.js';
import { runDoctor } from '../../src/cli/commands/doctor.js';
import { freePort } from '../../src/dev/embedded-postgres.js';
import { projectRoot } from '../../src/dev/toolchain.js';
import { loadConfig } from '../../src/platform/config.js';
import { createPrisma } from '../../src/platform/database.js';
import {
  APP_GROUP_ROLE,
  ensureAppLoginRole,
  excessPrivileges,
  roleFacts,
  withCredentials,
} from '../../src/platform/database-roles.js';
import { simulatedEvent } from '../../src/webhook/event-builders.js';
import { TEST_APP_ROLE } from './support/global-setup.js';
import {
  db,
  eventsOf,
  notificationsOf,
  seedCustomer,
  useRunningWorker,
  useTimeSkippingEnv,
  waitForState,
} from './support/harness.js';
import { buildTestApp } from './support/http.js';
import { deliver, logRow } from './support/stripe.js';

const run = promisify(execFile);

/** A pg client for one test; closed after it. */
async function connect(url: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

/** The PostgreSQL error code `sql` fails with, or 'ok'. */
async function outcome(client: pg.Client, sql: string, values: unknown[] = []): Promise<string> {
  try {
    await client.query(sql, values);
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

const PRIVILEGES = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'] as const;

/** Every table of the schema → the privileges `role` holds on it (directly or through membership). */
async function privilegeMatrix(client: pg.Client, role: string): Promise<Record<string, string[]>> {
  const { rows } = await client.query<{ table: string; held: string[] }>(
    `SELECT c.relname AS table,
            ARRAY(SELECT p FROM unnest($2::text[]) p WHERE has_table_privilege($1, c.oid, p)) AS held
       FROM pg_class c
      WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
      ORDER BY c.relname`,
    [role, PRIVILEGES],
  );
  return Object.fromEntries(rows.map((r) => [r.table, r.held]));
}

describe('the role the app connects as', () => {
  it('is a login role, member of billing_app, with nothing beyond reading and writing rows', async () => {
    const app = await connect(inject('databaseUrl'));
    try {
      const facts = await roleFacts(app);
      expect(facts.role).toBe(TEST_APP_ROLE);
      expect(excessPrivileges(facts)).toEqual([]);
      const member = await app.query<{ member: boolean }>(
        `SELECT pg_has_role(current_user, $1, 'MEMBER') AS member`,
        [APP_GROUP_ROLE],
      );
      expect(member.rows[0]!.member).toBe(true);
    } finally {
      await app.end();
    }
    // The owner, for contrast: the start-up check would refuse it in production.
    const owner = await connect(inject('ownerDatabaseUrl'));
    try {
      expect(excessPrivileges(await roleFacts(owner))).toEqual(
        expect.arrayContaining(['owns the tables of schema public']),
      );
    } finally {
      await owner.end();
    }
  });

  it('holds, table by table: read and write; DELETE only on Server; the audit trail append-only; the migration history read-only; never TRUNCATE, REFERENCES or TRIGGER', async () => {
    const owner = await connect(inject('ownerDatabaseUrl'));
    try {
      const matrix = await privilegeMatrix(owner, TEST_APP_ROLE);
      const readWrite = ['SELECT', 'INSERT', 'UPDATE'];
      // A table added by a later migration gets the defaults (read and write, no DELETE): this
      // list names only the exceptions.
      const exceptions: Record<string, string[]> = {
        Server: [...readWrite, 'DELETE'],
        BillingEnforcementEvent: ['SELECT', 'INSERT'],
        _prisma_migrations: ['SELECT'],
      };
      expect(Object.keys(matrix)).toEqual(
        expect.arrayContaining(['BillingAccount', 'Invoice', 'Notification', 'StripeEventLog']),
      );
      for (const [table, held] of Object.entries(matrix)) {
        expect(held, table).toEqual(exceptions[table] ?? readWrite);
      }
    } finally {
      await owner.end();
    }
  });

  it('gets read and write on a table the owner creates later, with no grant of its own (default privileges)', async () => {
    const owner = await connect(inject('ownerDatabaseUrl'));
    const table = `future_${randomUUID().slice(0, 8)}`;
    try {
      await owner.query(`CREATE TABLE ${owner.escapeIdentifier(table)} (id text PRIMARY KEY, n serial)`);
      expect((await privilegeMatrix(owner, TEST_APP_ROLE))[table]).toEqual(['SELECT', 'INSERT', 'UPDATE']);
      const app = await connect(inject('databaseUrl'));
      try {
        // INSERT draws from the table's sequence: the defaults cover sequences too.
        expect(await outcome(app, `INSERT INTO ${app.escapeIdentifier(table)} (id) VALUES ('a')`)).toBe('ok');
        expect(await outcome(app, `DELETE FROM ${app.escapeIdentifier(table)}`)).toBe('42501');
      } finally {
        await app.end();
      }
    } finally {
      await owner.query(`DROP TABLE IF EXISTS ${owner.escapeIdentifier(table)}`);
      await owner.end();
    }
  });
});

describe('real work as the app role, then what the role cannot do', () => {
  const env = useTimeSkippingEnv();
  const taskQueue = useRunningWorker(env);
  let app: ReturnType<typeof buildTestApp>['app'];
  beforeAll(async () => {
    app = buildTestApp({ client: env().client, taskQueue: taskQueue() }).app;
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
  });

  it('webhook ingest, the ladder activities (account, audit, email ledger) and the gate read succeed; DROP, ALTER, TRUNCATE, CREATE and any change to an audit row or the migration history are refused', async () => {
    const { accountId, customer, handle } = await seedCustomer(env());
    const failed = simulatedEvent('payment-failed', { customer });
    const delivered = await deliver(app, failed);
    expect(delivered.status).toBe(200);
    expect(await logRow(failed.id)).toMatchObject({ status: 'processed', accountId });
    await waitForState(handle, 'overdue');
    const audit = await eventsOf(accountId);
    expect(audit.map((e) => e.kind)).toContain('transition:overdue');
    expect((await notificationsOf(accountId)).map((n) => n.template)).toContain('payment_failed');
    expect(await db().billingAccount.findUniqueOrThrow({ where: { id: accountId } })).toMatchObject({
      state: 'overdue',
    });
    // The gate's own pool (raw SQL, prepared statements) on the same role.
    const gates = createGateAccountLookup({
      db: db(),
      databaseUrl: inject('databaseUrl'),
      onPoolError: () => {},
    });
    try {
      expect(await gates.byId(accountId)).toMatchObject({ id: accountId, state: 'overdue' });
    } finally {
      await gates.close();
    }

    const role = await connect(inject('databaseUrl'));
    try {
      const auditRow = audit.find((e) => e.kind === 'transition:overdue')!.id;
      const refused = {
        'DROP TABLE': await outcome(role, 'DROP TABLE "BillingEnforcementEvent"'),
        'ALTER TABLE': await outcome(role, 'ALTER TABLE "BillingAccount" ADD COLUMN extra text'),
        TRUNCATE: await outcome(role, 'TRUNCATE "Invoice"'),
        'CREATE TABLE': await outcome(role, 'CREATE TABLE scratch (id int)'),
        'CREATE ROLE': await outcome(role, 'CREATE ROLE intruder'),
        'UPDATE audit row': await outcome(
          role,
          `UPDATE "BillingEnforcementEvent" SET reason = 'rewritten' WHERE id = $1`,
          [auditRow],
        ),
        'DELETE audit row': await outcome(role, 'DELETE FROM "BillingEnforcementEvent" WHERE id = $1', [
          auditRow,
        ]),
        'DELETE account': await outcome(role, 'DELETE FROM "BillingAccount" WHERE id = $1', [accountId]),
        'write migration history': await outcome(
          role,
          `UPDATE _prisma_migrations SET logs = 'x' WHERE migration_name = (SELECT min(migration_name) FROM _prisma_migrations)`,
        ),
      };
      // 42501 insufficient_privilege: "permission denied" or "must be owner".
      expect(refused).toEqual(Object.fromEntries(Object.keys(refused).map((k) => [k, '42501'])));
    } finally {
      await role.end();
    }
    // Nothing changed: the audit row is still there as written, the account and its table too.
    expect((await eventsOf(accountId)).map((e) => [e.id, e.reason])).toEqual(
      audit.map((e) => [e.id, e.reason]),
    );
    expect(await db().billingAccount.count({ where: { id: accountId } })).toBe(1);
  });
});

describe('creating the login role (npm run db:app-role)', () => {
  const strong = () => randomBytes(24).toString('hex');

  it('creates it, sets a new password on the next run (the old one stops working), and makes it a member of billing_app', async () => {
    const name = `billing_rotate_${randomUUID().slice(0, 8)}`;
    const first = withCredentials(inject('ownerDatabaseUrl'), name, strong());
    const second = withCredentials(inject('ownerDatabaseUrl'), name, strong());
    expect(await ensureAppLoginRole({ adminUrl: inject('ownerDatabaseUrl'), appUrl: first })).toEqual({
      role: name,
      created: true,
    });
    const before = await connect(first);
    expect(excessPrivileges(await roleFacts(before))).toEqual([]);
    expect((await before.query('SELECT count(*) FROM "BillingAccount"')).rowCount).toBe(1);
    await before.end();

    expect(await ensureAppLoginRole({ adminUrl: inject('ownerDatabaseUrl'), appUrl: second })).toEqual({
      role: name,
      created: false,
    });
    await expect(connect(first)).rejects.toMatchObject({ code: '28P01' }); // password authentication failed
    const after = await connect(second);
    await after.end();
  });

  it('refuses the owner, a superuser, the group role and weak or placeholder passwords, changing nothing', async () => {
    const owner = inject('ownerDatabaseUrl');
    const ownerUser = new URL(owner).username;
    const admin = await connect(owner);
    const privileged = `billing_priv_${randomUUID().slice(0, 8)}`;
    const privilegedPassword = strong();
    await admin.query(`CREATE ROLE ${privileged} LOGIN SUPERUSER PASSWORD '${privilegedPassword}'`);
    try {
      const attempt = (user: string, password = strong()) =>
        ensureAppLoginRole({ adminUrl: owner, appUrl: withCredentials(owner, user, password) }).then(
          () => 'created',
          (error: Error) => error.message,
        );
      expect(await attempt(ownerUser)).toMatch(/both name .*: the app needs a login role of its own/);
      expect(await attempt(privileged)).toMatch(/exists and superuser, .*not changing it/);
      expect(await attempt(APP_GROUP_ROLE)).toMatch(/may not be billing_app/);
      expect(await attempt('billing_weak', 'short')).toMatch(/password for billing_weak is 5 characters/);
      expect(await attempt('billing_weak', 'replace-with-a-long-random-url-safe-password')).toMatch(
        /placeholder/,
      );
      // The superuser's password is the one it had; no role was created for the refused ones.
      const still = await connect(withCredentials(owner, privileged, privilegedPassword));
      await still.end();
      const weak = await admin.query(`SELECT 1 FROM pg_roles WHERE rolname = 'billing_weak'`);
      expect(weak.rowCount).toBe(0);
    } finally {
      await admin.query(`DROP ROLE ${privileged}`);
      await admin.end();
    }
  });

  it('`npm run db:app-role` reads MIGRATION_DATABASE_URL and DATABASE_URL and prints no password', async () => {
    const name = `billing_cli_${randomUUID().slice(0, 8)}`;
    const password = strong();
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/db-app-role.ts'], {
      cwd: projectRoot,
      env: {
        PATH: process.env.PATH,
        MIGRATION_DATABASE_URL: inject('ownerDatabaseUrl'),
        DATABASE_URL: withCredentials(inject('ownerDatabaseUrl'), name, password),
      },
    });
    expect(stdout).toContain(`${name} created, member of billing_app`);
    expect(stdout).not.toContain(password);
    const missing = await run(process.execPath, ['--import', 'tsx', 'scripts/db-app-role.ts'], {
      cwd: projectRoot,
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: withCredentials(inject('ownerDatabaseUrl'), name, password),
      },
    }).catch((error: { code: number; stderr: string }) => error);
    expect(missing).toMatchObject({ code: 78 });
    expect((missing as { stderr: string }).stderr).toContain('set MIGRATION_DATABASE_URL');
  });
});

describe('start-up with a privileged DATABASE_URL', () => {
  const production = () => ({
    PATH: process.env.PATH!,
    HOME: process.env.HOME ?? '/tmp',
    BILLING_DEV_ENV: 'off',
    NODE_ENV: 'production',
    INTERNAL_API_TOKEN: randomBytes(24).toString('hex'),
    ADMIN_TOKEN: randomBytes(24).toString('hex'),
    STRIPE_WEBHOOK_SECRET: `whsec_${randomBytes(24).toString('base64')}`,
    DEPENDENCY_WAIT_SECONDS: '1',
    WORKER_METRICS_ADDRESS: 'off',
    WORKER_SERVICE_METRICS_ADDRESS: 'off',
  });
  const start = (entry: string, env: Record<string, string>) =>
    run(process.execPath, ['--import', 'tsx', entry], { cwd: projectRoot, timeout: 60_000, env }).then(
      () => ({ code: 0, output: '' }),
      (e: { code: number; stdout: string; stderr: string }) => ({
        code: e.code,
        output: e.stdout + e.stderr,
      }),
    );

  it('production: the worker and the HTTP service refuse the owner (exit 78, naming DATABASE_URL); DATABASE_ALLOW_PRIVILEGED_ROLE=true lets them go on, warning; the app role goes on silently', async () => {
    // Temporal is not there: a process that gets past the role check stops at Temporal (69).
    const temporal = { TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}` };
    for (const entry of ['src/worker.ts', 'src/api/main.ts']) {
      const owner = { ...production(), ...temporal, DATABASE_URL: inject('ownerDatabaseUrl') };
      const refused = await start(entry, owner);
      expect(refused.code, refused.output).toBe(78);
      expect(refused.output).toMatch(/DATABASE_URL connects as \w+ \(superuser, .*owns the tables/);
      expect(refused.output).toContain('DATABASE_ALLOW_PRIVILEGED_ROLE=true overrides');

      const allowed = await start(entry, { ...owner, DATABASE_ALLOW_PRIVILEGED_ROLE: 'true' });
      expect(allowed.code, allowed.output).toBe(69);
      expect(allowed.output).toContain('(allowed by DATABASE_ALLOW_PRIVILEGED_ROLE=true)');

      const app = await start(entry, { ...production(), ...temporal, DATABASE_URL: inject('databaseUrl') });
      expect(app.code, app.output).toBe(69);
      expect(app.output).not.toContain('DATABASE_URL connects as');
    }
  });

  it('`billing doctor` applies the same rule: in production the owner fails its database role check', async () => {
    const check = async (url: string) => {
      const config = loadConfig({ ...production(), DATABASE_URL: url });
      const prisma = createPrisma(url, { max: 1 });
      try {
        const report = await runDoctor(
          { db: prisma, client: null, temporalError: 'not needed here', config, out: { write: () => true } },
          {},
        );
        return report.checks.find((c) => c.name === 'database role');
      } finally {
        await prisma.$disconnect();
      }
    };
    expect(await check(inject('ownerDatabaseUrl'))).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/^DATABASE_URL connects as \w+ \(superuser/) as string,
    });
    expect(await check(inject('databaseUrl'))).toMatchObject({ ok: true });
  });
});
