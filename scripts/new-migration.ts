// `npm run migrate:new -- <name> [--from <previous schema file>]`: writes the next migration
// offline. `prisma migrate dev` does not work through Prisma's WASM engine (docs/design.md,
// "Toolchain"), so this diffs the previous schema (default: the committed one,
// `git show HEAD:prisma/schema.prisma`) against prisma/schema.prisma. The JS engine needs a
// live PostgreSQL even for a diff: a throwaway embedded one is started and removed.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { startEmbeddedPostgres } from '../src/dev/embedded-postgres.js';
import { projectRoot } from '../src/dev/toolchain.js';

const program = new Command()
  .name('migrate:new')
  .argument('<name>', 'migration name, e.g. add_dispute_reason')
  .option('--from <file>', 'previous schema file (default: the committed prisma/schema.prisma)')
  .parse();
const name = program.args[0]!;
const { from } = program.opts<{ from?: string }>();
if (!/^[a-z0-9_]+$/.test(name)) {
  console.error('migration name: use lower-case letters, digits and underscores');
  process.exit(2);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'migrate-new-'));
const previous = path.join(tmp, 'previous.prisma');
fs.writeFileSync(
  previous,
  from
    ? fs.readFileSync(from)
    : execFileSync('git', ['show', 'HEAD:prisma/schema.prisma'], { cwd: projectRoot }),
);

const pg = await startEmbeddedPostgres({ dataDir: path.join(tmp, 'pg'), persistent: false });
try {
  const sql = execFileSync(
    path.join(projectRoot, 'node_modules', '.bin', 'prisma'),
    [
      'migrate',
      'diff',
      '--from-schema-datamodel',
      previous,
      '--to-schema-datamodel',
      'prisma/schema.prisma',
      '--script',
    ],
    {
      cwd: projectRoot,
      env: { ...process.env, DATABASE_URL: pg.databaseUrl, MIGRATION_DATABASE_URL: pg.databaseUrl },
      encoding: 'utf8',
    },
  );
  if (!sql.trim() || /^-- This is an empty migration/m.test(sql)) {
    console.log('no schema change: nothing written');
  } else {
    const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
    const dir = path.join(projectRoot, 'prisma', 'migrations', `${stamp}_${name}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'migration.sql'), sql);
    console.log(`wrote ${path.relative(projectRoot, dir)}/migration.sql — review it, then commit it`);
  }
} finally {
  await pg.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
}
