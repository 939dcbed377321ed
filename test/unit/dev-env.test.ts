// The CLI next to `npm run dev` finds the stack's env file where the stack wrote it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { devEnvFile, loadDevEnvIfPresent } from '../../src/cli/dev-env.js';
import { projectRoot } from '../../src/dev/toolchain.js';

const saved = { ...process.env };
afterEach(() => {
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
});

describe('the dev stack env file', () => {
  it('is .data/dev.env by default, and in DEV_DATA_DIR when that is set (relative to the checkout)', () => {
    expect(devEnvFile('')).toBe(path.join(projectRoot, '.data', 'dev.env'));
    expect(devEnvFile('/tmp/stack')).toBe('/tmp/stack/dev.env');
    expect(devEnvFile('other')).toBe(path.join(projectRoot, 'other', 'dev.env'));
  });

  it('is read from DEV_DATA_DIR, the folder a second stack was started with', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dev-env-'));
    fs.writeFileSync(path.join(dir, 'dev.env'), 'DATABASE_URL="postgresql://u@127.0.0.1:5500/billing"\n');
    delete process.env.DATABASE_URL;
    delete process.env.BILLING_DEV_ENV;
    process.env.DEV_DATA_DIR = dir;
    const said: string[] = [];
    expect(loadDevEnvIfPresent({ write: (line: string) => said.push(line) })).toBe(true);
    expect(process.env.DATABASE_URL).toBe('postgresql://u@127.0.0.1:5500/billing');
    expect(said.join('')).toContain(path.join(dir, 'dev.env').split(path.sep).at(-1)!);
  });

  it('is left alone when the environment names a database', () => {
    process.env.DATABASE_URL = 'postgresql://x@db/billing';
    process.env.DEV_DATA_DIR = '/nonexistent';
    expect(loadDevEnvIfPresent({ write: () => undefined })).toBe(false);
    expect(process.env.DATABASE_URL).toBe('postgresql://x@db/billing');
  });
});
