// Next to `npm run dev`, the CLI needs no setup: the dev command writes the addresses and local
// secrets it generated to .data/dev.env (or DEV_DATA_DIR's, like the stack itself), read here
// when the environment names no database.
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../dev/toolchain.js';

/** The dev stack's env file: in DEV_DATA_DIR when set (as `npm run dev` reads it), else .data. */
export const devEnvFile = (dataDir = process.env.DEV_DATA_DIR): string =>
  path.join(path.resolve(projectRoot, dataDir || '.data'), 'dev.env');

/** `BILLING_DEV_ENV=off` keeps the file out (scripts and tests that want the bare environment). */
export function loadDevEnvIfPresent(err: { write(chunk: string): unknown }): boolean {
  if (process.env.BILLING_DEV_ENV === 'off') return false;
  const file = devEnvFile();
  if (process.env.DATABASE_URL || !fs.existsSync(file)) return false;
  process.loadEnvFile(file);
  err.write(`billing: using ${path.relative(process.cwd(), file) || file} (written by npm run dev)\n`);
  return true;
}
