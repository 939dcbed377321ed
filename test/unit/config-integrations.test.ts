import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeAdapters } from '../../src/activities/deps.js';
import { redactEmailAddresses } from '../../src/activities/index.js';
import { loadConfig } from '../../src/platform/config.js';
import { problemsOf, validEnv } from './support/config.js';

const valid = validEnv;

describe('integration settings', () => {
  it('defaults: recording server control, provider rates', () => {
    const { env } = loadConfig(valid);
    expect(env.SERVER_CONTROL).toBe('recording');
    expect(env.EMAIL_RATE_PER_SECOND).toBe(2);
    expect(env.DISCORD_RATE_PER_SECOND).toBe(0.5);
    expect(env.PROXMOX_TLS_INSECURE).toBe(false);
  });

  it('SERVER_CONTROL=proxmox names every missing Proxmox variable', () => {
    const problems = problemsOf({ ...valid, SERVER_CONTROL: 'proxmox' });
    expect(problems.map((p) => p.variable).sort()).toEqual([
      'PROXMOX_API_URL',
      'PROXMOX_TOKEN_ID',
      'PROXMOX_TOKEN_SECRET',
    ]);
    expect(problems[0]!.message).toContain('required when SERVER_CONTROL=proxmox');
  });

  it('checks the token id shape and that the CA file is readable', () => {
    const problems = problemsOf({
      ...valid,
      SERVER_CONTROL: 'proxmox',
      PROXMOX_API_URL: 'https://pve1.example.com:8006',
      PROXMOX_TOKEN_ID: 'billing-enforcement',
      PROXMOX_TOKEN_SECRET: '0b5f3c1e-7a2d-4c8e-9f10-1234567890ab',
      PROXMOX_CA_PATH: '/nonexistent/ca.pem',
    });
    expect(problems.map((p) => p.variable).sort()).toEqual(['PROXMOX_CA_PATH', 'PROXMOX_TOKEN_ID']);
  });

  it('accepts a complete Proxmox configuration', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
    const ca = path.join(dir, 'ca.pem');
    fs.writeFileSync(ca, '-----BEGIN CERTIFICATE-----\n');
    const { env } = loadConfig({
      ...valid,
      SERVER_CONTROL: 'proxmox',
      PROXMOX_API_URL: 'https://pve1.example.com:8006',
      PROXMOX_TOKEN_ID: 'billing@pve!enforcement',
      PROXMOX_TOKEN_SECRET: '0b5f3c1e-7a2d-4c8e-9f10-1234567890ab',
      PROXMOX_CA_PATH: ca,
      PROXMOX_TLS_INSECURE: 'false',
    });
    expect(env.SERVER_CONTROL).toBe('proxmox');
    expect(env.PROXMOX_CA_PATH).toBe(ca);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a Discord webhook URL must be one discord.js can use', () => {
    const problems = problemsOf({ ...valid, DISCORD_OPS_WEBHOOK_URL: 'https://hooks.example.com/x' });
    expect(problems.map((p) => p.variable)).toEqual(['DISCORD_OPS_WEBHOOK_URL']);
    const url = `https://discord.com/api/webhooks/123456789012345678/${'a'.repeat(68)}`;
    expect(loadConfig({ ...valid, DISCORD_OPS_WEBHOOK_URL: url }).env.DISCORD_OPS_WEBHOOK_URL).toBe(url);
  });
});

describe('what goes to Discord and the logs', () => {
  it('email addresses are redacted', () => {
    expect(redactEmailAddresses('resend said: invalid `to` jane.doe+x@mail.example.co.uk (422)')).toBe(
      'resend said: invalid `to` [email redacted] (422)',
    );
    expect(redactEmailAddresses('acct_123 in state overdue')).toBe('acct_123 in state overdue');
  });

  it('the adapter description says which are recording and why', () => {
    const text = describeAdapters({
      email: { kind: 'recording' } as never,
      chat: { kind: 'discord' } as never,
      servers: { kind: 'recording' } as never,
    });
    expect(text).toContain('email=recording (no RESEND_API_KEY');
    expect(text).toContain('discord=discord');
    expect(text).toContain('servers=recording (SERVER_CONTROL=recording');
  });
});
