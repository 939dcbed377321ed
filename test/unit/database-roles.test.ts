// The pure parts of the database-role rules (src/platform/database-roles.ts) and the migration
// script splitter (src/platform/migration-adapter.ts). The real roles and grants are checked on
// PostgreSQL in test/integration/database-role.test.ts.
import { describe, expect, it } from 'vitest';
import {
  databaseRoleVerdict,
  excessPrivileges,
  scramVerifier,
  urlCredentials,
  withCredentials,
  type RoleFacts,
} from '../../src/platform/database-roles.js';
import { splitSqlScript } from '../../src/platform/migration-adapter.js';

const appRole: RoleFacts = {
  role: 'billing_service',
  schema: 'public',
  superuser: false,
  createRole: false,
  createDb: false,
  replication: false,
  bypassRls: false,
  ownsTables: false,
  createInSchema: false,
};

describe('excessPrivileges', () => {
  it('names each privilege beyond reading and writing rows', () => {
    expect(excessPrivileges(appRole)).toEqual([]);
    expect(excessPrivileges({ ...appRole, superuser: true })).toEqual(['superuser']);
    expect(excessPrivileges({ ...appRole, createRole: true })).toEqual(['CREATEROLE']);
    expect(excessPrivileges({ ...appRole, createDb: true })).toEqual(['CREATEDB']);
    expect(excessPrivileges({ ...appRole, replication: true })).toEqual(['REPLICATION']);
    expect(excessPrivileges({ ...appRole, bypassRls: true })).toEqual(['BYPASSRLS']);
    expect(excessPrivileges({ ...appRole, ownsTables: true })).toEqual(['owns the tables of schema public']);
    expect(excessPrivileges({ ...appRole, createInSchema: true })).toEqual([
      'may create objects in schema public',
    ]);
  });
});

describe('databaseRoleVerdict', () => {
  const owner = { ...appRole, role: 'billing', ownsTables: true, createInSchema: true };
  const env = (NODE_ENV: string, allow = false) => ({ NODE_ENV, DATABASE_ALLOW_PRIVILEGED_ROLE: allow });

  it('lets the app role through everywhere', () => {
    for (const mode of ['production', 'development', 'test']) {
      expect(databaseRoleVerdict(env(mode), appRole)).toEqual({ action: 'ok' });
    }
  });

  it('production refuses a privileged role, naming it, what it may do, and the override', () => {
    const verdict = databaseRoleVerdict(env('production'), owner);
    expect(verdict).toEqual({
      action: 'refuse',
      message: expect.stringMatching(
        /^connects as billing \(owns the tables of schema public, may create objects in schema public\): .*DATABASE_ALLOW_PRIVILEGED_ROLE=true overrides\)$/,
      ) as string,
    });
  });

  it('with the override, and outside production, it warns instead', () => {
    expect(databaseRoleVerdict(env('production', true), owner)).toMatchObject({
      action: 'warn',
      message: expect.stringContaining('allowed by DATABASE_ALLOW_PRIVILEGED_ROLE=true') as string,
    });
    for (const mode of ['development', 'test']) {
      expect(databaseRoleVerdict(env(mode), owner).action).toBe('warn');
    }
  });
});

describe('URLs and passwords', () => {
  it('swaps the credentials of a URL, percent-encoding them, and reads them back decoded', () => {
    const url = withCredentials('postgresql://owner:pw@db:5432/billing?sslmode=require', 'app', 'p@ss/w:rd');
    expect(url).toBe('postgresql://app:p%40ss%2Fw%3Ard@db:5432/billing?sslmode=require');
    expect(urlCredentials(url)).toEqual({ user: 'app', password: 'p@ss/w:rd', database: 'billing' });
  });

  it('stores a SCRAM-SHA-256 verifier in PostgreSQL’s format, never the password', () => {
    const salt = Buffer.from('0123456789abcdef');
    const verifier = scramVerifier('correct horse battery staple', 4096, salt);
    expect(verifier).toMatch(
      /^SCRAM-SHA-256\$4096:MDEyMzQ1Njc4OWFiY2RlZg==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/,
    );
    expect(verifier).not.toContain('horse');
    // Deterministic for a salt, different for another one.
    expect(scramVerifier('correct horse battery staple', 4096, salt)).toBe(verifier);
    expect(scramVerifier('correct horse battery staple')).not.toBe(verifier);
  });
});

describe('splitSqlScript (the migration adapter)', () => {
  it('cuts where PostgreSQL ends a statement, not at a ; inside a DO block, a string or a comment', () => {
    const script = [
      "-- a comment; with a semicolon and an apostrophe's",
      'CREATE TABLE "A" (note text DEFAULT \'x;y\');',
      'DO $$',
      'BEGIN',
      "  IF true THEN RAISE NOTICE 'one; two'; END IF;",
      'END $$;',
      '/* block; comment */ ALTER TABLE "A" ADD COLUMN "b;c" int;',
      'CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $body$ SELECT 1; $body$;',
      '',
    ].join('\n');
    expect(splitSqlScript(script)).toEqual([
      "-- a comment; with a semicolon and an apostrophe's\nCREATE TABLE \"A\" (note text DEFAULT 'x;y')",
      "DO $$\nBEGIN\n  IF true THEN RAISE NOTICE 'one; two'; END IF;\nEND $$",
      '/* block; comment */ ALTER TABLE "A" ADD COLUMN "b;c" int',
      'CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $body$ SELECT 1; $body$',
    ]);
  });
});
