-- The privileges of the application, held by the NOLOGIN group role `billing_app`. The worker, the
-- HTTP service and the CLI connect as a login role that is a member of it; migrations run as the
-- role that owns the tables. No password here: roles are cluster-wide, and the deployment
-- creates the login role (src/platform/database-roles.ts, `npm run db:app-role`).
-- Why each privilege: docs/design.md, "Database roles". test/integration/database-role.test.ts
-- checks the result table by table.

-- The group role, unless this cluster already has it (another database of the same cluster, or a
-- DBA who created it because the migration role may not create roles).
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'billing_app') THEN
    BEGIN
      CREATE ROLE billing_app NOLOGIN;
    EXCEPTION
      WHEN duplicate_object THEN NULL; -- created meanwhile by a concurrent migration
      WHEN insufficient_privilege THEN
        RAISE EXCEPTION 'the migration role % may not create roles', current_user
          USING HINT = 'create it once as an administrator: CREATE ROLE billing_app NOLOGIN; then run the migrations again';
    END;
  END IF;
END $$;

DO $$
DECLARE
  s text := current_schema();
BEGIN
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO billing_app', current_database());
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO billing_app', s);
  -- PostgreSQL before 15 lets every role create tables in `public`: no DDL for anyone but the
  -- owner. (A warning, not an error, where the migration role does not own the schema.)
  EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM PUBLIC', s);

  -- Read and write, never TRUNCATE, REFERENCES or TRIGGER; DELETE only where the code deletes.
  -- The defaults give every table and sequence the migration role creates later the same, so a
  -- new table is usable by the app with no grant of its own.
  EXECUTE format('GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA %I TO billing_app', s);
  EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO billing_app', s);
  EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE ON TABLES TO billing_app', s);
  EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO billing_app', s);
END $$;

-- Account sync removes the servers an account no longer lists (src/accounts/sync-account.ts).
GRANT DELETE ON "Server" TO billing_app;
-- The audit trail is append-only: the app writes events and never changes one.
REVOKE UPDATE ON "BillingEnforcementEvent" FROM billing_app;
-- The migration history of Prisma: `billing doctor` reads it; only the migration role writes it.
REVOKE INSERT, UPDATE ON "_prisma_migrations" FROM billing_app;
