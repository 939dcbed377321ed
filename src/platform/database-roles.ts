// Two database roles: the schema's owner runs the migrations, and the worker, the HTTP service
// and the CLI connect as a login role with only what the code needs. The privileges belong to the
// NOLOGIN group role `billing_app`, which the migrations create and grant
// (prisma/migrations/*_app_role); the login role holds no privilege of its own, only the
// membership. Why: a bug or an injection in the app cannot drop, alter or truncate a table,
// rewrite the audit trail, or reach beyond this database (docs/design.md, "Database roles").
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import pg from 'pg';
import { weakTokenReason } from './secrets.js';

/** The group role the migrations grant the app's privileges to. */
export const APP_GROUP_ROLE = 'billing_app';

/** What the connected role may do beyond reading and writing rows: all false for the app's role. */
export interface RoleFacts {
  role: string;
  schema: string;
  superuser: boolean;
  createRole: boolean;
  createDb: boolean;
  replication: boolean;
  bypassRls: boolean;
  /** It owns (or may act as the owner of) a table of the schema: it could DROP, ALTER or TRUNCATE it. */
  ownsTables: boolean;
  /** It may create objects (tables, functions) in the schema. */
  createInSchema: boolean;
}

/** One catalogue query about `who` (default: the connected role); the start-up probe runs it in place of `SELECT 1`. */
export const roleFactsSql = (who = 'current_user') => `SELECT r.rolname AS role, current_schema() AS schema,
  r.rolsuper AS superuser, r.rolcreaterole AS "createRole", r.rolcreatedb AS "createDb",
  r.rolreplication AS replication, r.rolbypassrls AS "bypassRls",
  EXISTS (SELECT 1 FROM pg_class c
          WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
            AND pg_has_role(r.oid, c.relowner, 'USAGE')) AS "ownsTables",
  has_schema_privilege(r.oid, current_schema(), 'CREATE') AS "createInSchema"
FROM pg_roles r WHERE r.rolname = ${who}`;

/** The role's privileges that the app must not have, in words; empty for a least-privilege role. */
export function excessPrivileges(facts: RoleFacts): string[] {
  const found: string[] = [];
  if (facts.superuser) found.push('superuser');
  if (facts.createRole) found.push('CREATEROLE');
  if (facts.createDb) found.push('CREATEDB');
  if (facts.replication) found.push('REPLICATION');
  if (facts.bypassRls) found.push('BYPASSRLS');
  if (facts.ownsTables) found.push(`owns the tables of schema ${facts.schema}`);
  if (facts.createInSchema) found.push(`may create objects in schema ${facts.schema}`);
  return found;
}

export async function roleFacts(client: pg.ClientBase): Promise<RoleFacts> {
  const { rows } = await client.query<RoleFacts>(roleFactsSql());
  if (!rows[0]) throw new Error('the connected role is not in pg_roles');
  return rows[0];
}

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802/7677, the format of
 * pg_authid.rolpassword). Sending the verifier instead of the password keeps the password out of
 * the server's statement log. Printable ASCII only: there SASLprep changes nothing, so the client
 * (node-postgres does no SASLprep) and the server agree.
 */
export function scramVerifier(password: string, iterations = 4096, salt = randomBytes(16)): string {
  const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

export class AppRoleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AppRoleError';
  }
}

/** User and password of a postgresql:// URL, percent-decoded. */
export function urlCredentials(url: string): { user: string; password: string; database: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AppRoleError('DATABASE_URL is not a postgresql:// URL');
  }
  return {
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    database: decodeURIComponent(parsed.pathname.replace(/^\//, '')),
  };
}

/** `url` with another user and password (both percent-encoded), e.g. the app's URL from the owner's. */
export function withCredentials(url: string, user: string, password: string): string {
  const parsed = new URL(url);
  parsed.username = encodeURIComponent(user);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}

const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

/**
 * Creates the app's login role named in `appUrl`, or brings an existing one to that password,
 * and makes it a member of `billing_app`. Idempotent: every deployment runs it after the
 * migrations (compose's `db-app-role`, `npm run db:app-role`, `npm run dev`, the test suite).
 * Refuses a role that already has more than the app may have (a superuser, the tables' owner):
 * pointing DATABASE_URL at the owner must fail here, not silently change the owner's password.
 * `adminUrl` needs CREATEROLE (and, from PostgreSQL 16, ADMIN OPTION on billing_app, which the
 * role that created billing_app has).
 */
export async function ensureAppLoginRole(options: {
  adminUrl: string;
  appUrl: string;
}): Promise<{ role: string; created: boolean }> {
  const app = urlCredentials(options.appUrl);
  const admin = urlCredentials(options.adminUrl);
  if (!app.user) throw new AppRoleError('DATABASE_URL names no user');
  if (app.user === admin.user) {
    throw new AppRoleError(
      `DATABASE_URL and MIGRATION_DATABASE_URL both name ${app.user}: the app needs a login role of its own`,
    );
  }
  if (app.user === APP_GROUP_ROLE || app.user.startsWith('pg_')) {
    throw new AppRoleError(`DATABASE_URL's user may not be ${app.user}: name a login role of its own`);
  }
  if (!PRINTABLE_ASCII.test(app.password)) {
    throw new AppRoleError(
      `DATABASE_URL's password for ${app.user} is empty or not printable ASCII: generate one (\`openssl rand -hex 32\`)`,
    );
  }
  const weak = weakTokenReason(app.password);
  if (weak) throw new AppRoleError(`DATABASE_URL's password for ${app.user} ${weak}`);

  const client = new pg.Client({ connectionString: options.adminUrl });
  await client.connect();
  try {
    const group = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [APP_GROUP_ROLE]);
    if (group.rowCount === 0) {
      throw new AppRoleError(
        `role ${APP_GROUP_ROLE} does not exist: run the migrations first (npm run migrate:deploy)`,
      );
    }
    const role = client.escapeIdentifier(app.user);
    const verifier = client.escapeLiteral(scramVerifier(app.password));
    const existing = await client.query<{ oid: number }>('SELECT oid FROM pg_roles WHERE rolname = $1', [
      app.user,
    ]);
    let created = false;
    if (existing.rowCount === 0) {
      try {
        await client.query(
          `CREATE ROLE ${role} LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD ${verifier}`,
        );
        created = true;
      } catch (error) {
        // Another run created it a moment ago: check it like an existing one below.
        if ((error as { code?: string }).code !== '42710') throw error;
      }
    }
    if (!created) {
      const { rows } = await client.query<RoleFacts>(roleFactsSql('$1'), [app.user]);
      const excess = excessPrivileges(rows[0]!);
      if (excess.length > 0) {
        throw new AppRoleError(
          `role ${app.user} exists and ${excess.join(', ')}: not changing it. Name a login role of its own in DATABASE_URL`,
        );
      }
      await client.query(`ALTER ROLE ${role} LOGIN INHERIT PASSWORD ${verifier}`);
    }
    await client.query(`GRANT ${client.escapeIdentifier(APP_GROUP_ROLE)} TO ${role}`);
    return { role: app.user, created };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** What start-up does about the role DATABASE_URL connects as. */
export type RoleVerdict = { action: 'ok' } | { action: 'warn' | 'refuse'; message: string };

/**
 * Production refuses a role with more than the app's privileges (a superuser, the tables' owner,
 * CREATEROLE, …) unless DATABASE_ALLOW_PRIVILEGED_ROLE says so; then, and outside production,
 * every start warns.
 */
export function databaseRoleVerdict(
  env: { NODE_ENV: string; DATABASE_ALLOW_PRIVILEGED_ROLE: boolean },
  facts: RoleFacts,
): RoleVerdict {
  const excess = excessPrivileges(facts);
  if (excess.length === 0) return { action: 'ok' };
  const what = `connects as ${facts.role} (${excess.join(', ')}): the app needs a login role with only the privileges of ${APP_GROUP_ROLE} (docs/runbook.md, "Database roles")`;
  if (env.NODE_ENV !== 'production') return { action: 'warn', message: what };
  if (env.DATABASE_ALLOW_PRIVILEGED_ROLE) {
    return { action: 'warn', message: `${what} (allowed by DATABASE_ALLOW_PRIVILEGED_ROLE=true)` };
  }
  return {
    action: 'refuse',
    message: `${what} (NODE_ENV=production; DATABASE_ALLOW_PRIVILEGED_ROLE=true overrides)`,
  };
}

/** For the worker and the HTTP service: exit 78 (invalid configuration) on a refusal, log a warning. */
export function enforceDatabaseRole(
  env: { NODE_ENV: string; DATABASE_ALLOW_PRIVILEGED_ROLE: boolean },
  facts: RoleFacts,
  logger: { warn(fields: object, message: string): void; fatal(fields: object, message: string): void },
): void {
  const verdict = databaseRoleVerdict(env, facts);
  if (verdict.action === 'ok') return;
  const fields = { variable: 'DATABASE_URL', role: facts.role };
  if (verdict.action === 'warn') {
    logger.warn(fields, `DATABASE_URL ${verdict.message}`);
    return;
  }
  logger.fatal(fields, `DATABASE_URL ${verdict.message}`);
  process.exit(78); // EX_CONFIG, as loadConfigOrExit: restarting will not fix it
}
