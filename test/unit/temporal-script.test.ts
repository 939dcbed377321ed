// `npm run temporal -- …` (scripts/temporal.mjs): finds the project's Temporal CLI and runs it
// with the operator's arguments and exit code; says what to do when there is none.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/dev/toolchain.js';

const script = path.join(projectRoot, 'scripts', 'temporal.mjs');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'temporal-script-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A stand-in `temporal` that prints its arguments and exits with the code in its first one. */
const fake = path.join(dir, 'temporal');
fs.writeFileSync(
  fake,
  '#!/bin/sh\necho "args: $*"\n[ -z "$TEMPORAL_TLS_CLIENT_CERT_PATH" ] || echo "cert: $TEMPORAL_TLS_CLIENT_CERT_PATH"\nexit "$1"\n',
  { mode: 0o755 },
);

const run = (args: string[], env: Record<string, string | undefined>) =>
  spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });

describe('npm run temporal', () => {
  it('runs the CLI TEMPORAL_CLI_PATH names with the arguments given, and exits with its code', () => {
    const ok = run(['0', 'workflow', 'list', '--query', 'BillingState = "suspended"'], {
      TEMPORAL_CLI_PATH: fake,
    });
    expect(ok.stdout).toBe('args: 0 workflow list --query BillingState = "suspended"\n');
    expect(ok.status).toBe(0);
    expect(run(['3'], { TEMPORAL_CLI_PATH: fake }).status).toBe(3);
  });

  it("passes the service's TLS settings under the CLI's names, unless the CLI's own are set", () => {
    const mapped = run(['0'], { TEMPORAL_CLI_PATH: fake, TEMPORAL_TLS_CERT_PATH: '/etc/ours.pem' });
    expect(mapped.stdout).toBe('args: 0\ncert: /etc/ours.pem\n');
    const own = run(['0'], {
      TEMPORAL_CLI_PATH: fake,
      TEMPORAL_TLS_CERT_PATH: '/etc/ours.pem',
      TEMPORAL_TLS_CLIENT_CERT_PATH: '/etc/theirs.pem',
    });
    expect(own.stdout).toBe('args: 0\ncert: /etc/theirs.pem\n');
  });

  it('--which prints where the CLI is', () => {
    const which = run(['--which'], { TEMPORAL_CLI_PATH: fake });
    expect(which.stdout).toBe(`${fake}\n`);
    expect(which.status).toBe(0);
  });

  it('no CLI anywhere (a checkout without .tools/, none on the PATH): exit 127 and how to get one', () => {
    const bare = path.join(dir, 'bare', 'scripts');
    fs.mkdirSync(bare, { recursive: true });
    fs.copyFileSync(script, path.join(bare, 'temporal.mjs'));
    const none = spawnSync(process.execPath, [path.join(bare, 'temporal.mjs'), 'workflow', 'list'], {
      encoding: 'utf8',
      env: { ...process.env, TEMPORAL_CLI_PATH: '', PATH: path.join(dir, 'bare') },
    });
    expect(none.status).toBe(127);
    expect(none.stderr).toMatch(/no Temporal CLI found\. Run `npm run bootstrap`/);
  });

  it('a CLI that cannot be run: exit 126 and why', () => {
    const missing = run(['workflow', 'list'], { TEMPORAL_CLI_PATH: path.join(dir, 'nope') });
    expect(missing.status).toBe(126);
    expect(missing.stderr).toMatch(/could not run .*nope/);
  });
});
