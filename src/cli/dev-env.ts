// Next to `npm run dev`, the CLI needs no setup: the dev command writes the addresses and local
// secrets it generated to .data/dev.env, read here when the environment names no database.
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../dev/toolchain.js';

export const DEV_ENV_FILE = path.join(projectRoot, '.data', 'dev.env');

/** `BILLING_DEV_ENV=off` keeps the file out (scripts and tests that want the bare environment). */
export function loadDevEnvIfPresent(err: { write(chunk: string): unknown }): boolean {
  if (process.env.BILLING_DEV_ENV === 'off') return false;
  if (process.env.DATABASE_URL || !fs.existsSync(DEV_ENV_FILE)) return false;
  process.loadEnvFile(DEV_ENV_FILE);
  err.write(
    `billing: using ${path.relative(process.cwd(), DEV_ENV_FILE) || DEV_ENV_FILE} (written by npm run dev)\n`,
  );
  return true;
}
