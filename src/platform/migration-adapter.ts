// The pg adapter the Prisma CLI applies migrations through (prisma.config.ts). @prisma/adapter-pg
// 7.10 runs a migration script by cutting it at every `;` (executeScript), so a statement that
// holds one (a DO $$ … $$ block, a string, a comment) reaches PostgreSQL in broken pieces: "syntax
// error" or "unterminated dollar-quoted string". This adapter cuts the script where PostgreSQL
// would end a statement (dbgate-query-splitter knows strings, quoted identifiers, comments and
// dollar quoting) and runs the statements one by one, as the original does.
import { PrismaPg } from '@prisma/adapter-pg';
import { postgreSplitterOptions, splitQuery } from 'dbgate-query-splitter';

/** The statements of a PostgreSQL script, each without its terminating `;`. */
export function splitSqlScript(script: string): string[] {
  return splitQuery(script, postgreSplitterOptions)
    .map((item) => (typeof item === 'string' ? item : item.text).trim())
    .filter((statement) => statement.length > 0);
}

export class MigrationPgAdapter extends PrismaPg {
  override async connect() {
    const adapter = await super.connect();
    adapter.executeScript = async (script: string) => {
      for (const sql of splitSqlScript(script)) await adapter.executeRaw({ sql, args: [], argTypes: [] });
    };
    return adapter;
  }
}
