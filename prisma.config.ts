// Prisma 6.19 with the JS schema engine: the native engines Prisma downloads at run time are
// unreachable offline (Prisma 7's CLI fetches them from binaries.prisma.sh), so the CLI talks to
// PostgreSQL through the pg adapter.
import path from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import { defineConfig } from 'prisma/config';

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: path.join('prisma', 'schema.prisma'),
  migrations: { path: path.join('prisma', 'migrations') },
  adapter: () => {
    const connectionString = process.env.DATABASE_URL;
    if (!connectionString) {
      throw new Error('DATABASE_URL is not set: the Prisma CLI needs a PostgreSQL connection string');
    }
    return Promise.resolve(new PrismaPg({ connectionString }));
  },
});
