import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/dev/toolchain.js';

const run = promisify(execFile);

describe('start-up with invalid configuration', () => {
  it('the worker stops with a non-zero exit code and names the variable', async () => {
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: 'mysql://nope',
      INTERNAL_API_TOKEN: 'x',
      ADMIN_TOKEN: 'admin-token-0123456789abcdef0000',
      STRIPE_WEBHOOK_SECRET: 'whsec_a',
    };
    const error = await run(process.execPath, ['--import', 'tsx', path.join('src', 'worker.ts')], {
      cwd: projectRoot,
      env,
    }).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(error).not.toBeNull();
    expect(error!.code).toBe(78);
    expect(error!.stderr).toMatch(/DATABASE_URL: expected a postgresql:\/\/ connection string/);
    expect(error!.stderr).toMatch(
      /INTERNAL_API_TOKEN: expected one or more secrets of at least 24 characters, separated by commas/,
    );
  });
});
