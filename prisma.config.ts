// Prisma 6.19 with the JS schema engine: the native engines Prisma downloads at run time are
// unreachable offline (docs/design.md, "Toolchain"), so the CLI talks to PostgreSQL through the pg adapter.
// The CLI (migrate deploy, migrate diff) connects as the schema's owner: MIGRATION_DATABASE_URL,
// or DATABASE_URL where one role does both (a local database). The app's own role may not
// create or alter tables (docs/design.md, "Database roles").
import path from 'node:path';
import { defineConfig } from 'prisma/config';
import { MigrationPgAdapter } from './src/platform/migration-adapter.js';

// The schema's env("DATABASE_URL") only tells Prisma 6 to use the JS engine (prisma/schema.prisma);
// unset, the CLI would try to download a native one. A migration run needs only the owner's URL.
if (!process.env.DATABASE_URL && process.env.MIGRATION_DATABASE_URL) {
  process.env.DATABASE_URL = process.env.MIGRATION_DATABASE_URL;
}

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: path.join('prisma', 'schema.prisma'),
  migrations: { path: path.join('prisma', 'migrations') },
  adapter: () => {
    const connectionString = process.env.MIGRATION_DATABASE_URL || process.env.DATABASE_URL;
    if (!connectionString) {
      throw new Error(
        "MIGRATION_DATABASE_URL is not set: the Prisma CLI needs the schema owner's PostgreSQL connection string",
      );
    }
    return Promise.resolve(new MigrationPgAdapter({ connectionString }));
  },
});
