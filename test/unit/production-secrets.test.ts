// Production refuses secrets anyone could know or guess, naming the variable; development keeps
// working with the ones `npm run dev` generates.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCliConfig } from '../../src/cli/runtime.js';
import { ConfigError, loadConfig } from '../../src/platform/config.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const strong = {
  DATABASE_URL: 'postgresql://billing:pw@db:5432/billing',
  INTERNAL_API_TOKEN: '3f9c1a7be04d62f8a15c9e0b7d43a2c6f18e5b90d7a3c4e1',
  ADMIN_TOKEN: 'b81e4f0c6a2d97e35f1c8b0a4e6d2f9c7a3b5e1d0c8f6a42',
  STRIPE_WEBHOOK_SECRET: 'whsec_J8f2kL0qZr7XyP4mN1vB6cT9wE3sA5dG',
};

function refusal(env: Record<string, string>): string[] {
  try {
    loadConfig({ NODE_ENV: 'production', ...env });
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.map((p) => p.variable);
  }
}

/** KEY=value lines of an env file, comments skipped. */
function envFile(file: string): Record<string, string> {
  return Object.fromEntries(
    fs
      .readFileSync(path.join(root, file), 'utf8')
      .split('\n')
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

describe('production refuses weak secrets', () => {
  it('starts with strong ones', () => {
    expect(refusal(strong)).toEqual([]);
  });

  it.each([
    ['.env.example', '.env.example'],
    ['the systemd example', 'deploy/systemd/billing.env.example'],
  ])('refuses the placeholders of %s, naming each variable', (_name, file) => {
    const example = envFile(file);
    const secrets = ['INTERNAL_API_TOKEN', 'ADMIN_TOKEN', 'STRIPE_WEBHOOK_SECRET'] as const;
    for (const variable of secrets) {
      expect(example[variable], `${file} sets ${variable}`).toBeDefined();
      expect(refusal({ ...strong, [variable]: example[variable]! })).toEqual([variable]);
    }
  });

  it.each([
    ['INTERNAL_API_TOKEN', 'a'.repeat(24)],
    ['INTERNAL_API_TOKEN', 'a'.repeat(64)],
    ['ADMIN_TOKEN', 'abababababababababababababababababab'],
    ['ADMIN_TOKEN', '0123456789abcdef0123456789abcd'],
    ['INTERNAL_API_TOKEN', 'cli-does-not-use-the-internal-token'],
    ['ADMIN_TOKEN', 'cli-does-not-use-the-admin-token-00'],
    ['STRIPE_WEBHOOK_SECRET', 'whsec_x'],
    ['STRIPE_WEBHOOK_SECRET', 'whsec_cli_does_not_use_it'],
    ['STRIPE_WEBHOOK_SECRET', `whsec_${'a'.repeat(40)}`],
    ['STRIPE_WEBHOOK_SECRET', `${strong.STRIPE_WEBHOOK_SECRET},whsec_replace_me`],
    ['CONTROLLER_API_TOKEN', 'replace-with-a-random-controller-token'],
    ['PORTAL_API_TOKEN', `c5e0a9d3f71b48e2a6c0f9d3b7e1a5c8f2d6b0e4,${'p'.repeat(40)}`],
    ['INTERNAL_API_TOKEN', `${strong.INTERNAL_API_TOKEN},0123456789abcdef0123456789abcd`],
  ])('refuses %s=%s', (variable, value) => {
    expect(refusal({ ...strong, [variable]: value })).toEqual([variable]);
  });

  it('refuses plain-http Proxmox and unverified TLS unless the override is set', () => {
    const proxmox = {
      ...strong,
      SERVER_CONTROL: 'proxmox',
      PROXMOX_TOKEN_ID: 'billing@pve!enforcement',
      PROXMOX_TOKEN_SECRET: '8f14e45f-ceea-467f-a8f6-0b1c2d3e4f50',
    };
    expect(refusal({ ...proxmox, PROXMOX_API_URL: 'http://pve1:8006' })).toEqual(['PROXMOX_API_URL']);
    expect(
      refusal({ ...proxmox, PROXMOX_API_URL: 'https://pve1:8006', PROXMOX_TLS_INSECURE: 'true' }),
    ).toEqual(['PROXMOX_TLS_INSECURE']);
    expect(refusal({ ...proxmox, PROXMOX_API_URL: 'https://pve1:8006' })).toEqual([]);
    expect(
      refusal({
        ...proxmox,
        PROXMOX_API_URL: 'http://pve1:8006',
        PROXMOX_TLS_INSECURE: 'true',
        PROXMOX_ALLOW_INSECURE_IN_PRODUCTION: 'true',
      }),
    ).toEqual([]);
  });

  it('development keeps working with placeholders and with the generated dev secrets', () => {
    const example = envFile('.env.example');
    expect(() =>
      loadConfig({ ...strong, ...example, NODE_ENV: 'development', DATABASE_URL: strong.DATABASE_URL }),
    ).not.toThrow();
    const generated = {
      INTERNAL_API_TOKEN: 'dev-internal-9b2f0c1e7a4d63f85c0e2b9a1d7f4c3e',
      ADMIN_TOKEN: 'dev-admin-4e1a9c7f2b0d85e36a1c9f7e2b4d0a6c',
      CONTROLLER_API_TOKEN: 'dev-controller-7d2a0e9c4b1f63a85e0c2d9b7f1a4e3c',
      PORTAL_API_TOKEN: 'dev-portal-1c8e3a5f9d0b27c46e8a0f3d5b9c1e7a',
      STRIPE_WEBHOOK_SECRET: 'whsec_dev3c9a1f7e0b2d4c6a8e1f3b5d7c9a0e2f',
    };
    expect(refusal({ ...strong, ...generated })).toEqual([]);
  });

  it('the CLI, which never serves HTTP, starts in production without the services secrets', () => {
    expect(() => loadCliConfig({ NODE_ENV: 'production', DATABASE_URL: strong.DATABASE_URL })).not.toThrow();
  });
});
