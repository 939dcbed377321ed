// The Proxmox VE adapter against a local stand-in of the API: the requests it sends, graceful
// shutdown then hard stop, qemu and lxc, TLS with a private CA, and the suspend / restore
// activities on real database rows.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { createProxmoxClient, ProxmoxApiError } from '../../src/adapters/proxmox/client.js';
import { createProxmoxServerControl } from '../../src/adapters/proxmox/server-control.js';
import { createLogger } from '../../src/platform/logger.js';
import { startProxmoxStandin, type ProxmoxStandin } from '../support/standins/proxmox.js';
import { db, recordingDeps, seedAccount } from './support/harness.js';

function control(standin: ProxmoxStandin, extra: { ca?: string | Buffer; insecure?: boolean } = {}) {
  return createProxmoxServerControl({
    client: createProxmoxClient({
      apiUrl: standin.url,
      tokenId: standin.tokenId,
      tokenSecret: standin.tokenSecret,
      ...extra,
    }),
    pollIntervalMs: 20,
  });
}

describe('Proxmox VE server control', () => {
  let px: ProxmoxStandin;
  beforeAll(async () => {
    px = await startProxmoxStandin();
  });
  afterEach(() => {
    px.requests.length = 0;
    px.actions.length = 0;
    px.guests.clear();
  });
  afterAll(async () => {
    await px.close();
  });

  it('reads the power state with the API token header, for qemu and lxc', async () => {
    px.addGuest('pve1', 'qemu', 101, { status: 'running' });
    px.addGuest('pve2', 'lxc', 202, { status: 'stopped' });
    const servers = control(px);
    expect(await servers.status({ node: 'pve1', kind: 'qemu', vmid: 101 })).toBe('running');
    expect(await servers.status({ node: 'pve2', kind: 'lxc', vmid: 202 })).toBe('stopped');
    expect(px.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /api2/json/nodes/pve1/qemu/101/status/current',
      'GET /api2/json/nodes/pve2/lxc/202/status/current',
    ]);
    for (const r of px.requests)
      expect(r.headers.authorization).toBe(`PVEAPIToken=billing@pve!enforcement=${px.tokenSecret}`);
  });

  it('a guest that powers off in time: graceful shutdown with the timeout, no hard stop', async () => {
    const guest = px.addGuest('pve1', 'qemu', 103, { status: 'running', shutdownMs: 100 });
    const outcome = await control(px).shutdown({ node: 'pve1', kind: 'qemu', vmid: 103 }, 2000);
    expect(outcome).toBe('graceful');
    expect(guest.status).toBe('stopped');
    expect(px.actions).toEqual(['shutdown qemu/103']);
    const shutdown = px.requests.find((r) => r.path.endsWith('/status/shutdown'))!;
    expect(shutdown.method).toBe('POST');
    expect(shutdown.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(new URLSearchParams(shutdown.body).get('timeout')).toBe('2');
  });

  it('a shutdown that does not finish in time is followed by a hard stop (lxc)', async () => {
    const guest = px.addGuest('pve2', 'lxc', 204, { status: 'running', shutdownMs: Infinity });
    const started = Date.now();
    const outcome = await control(px).shutdown({ node: 'pve2', kind: 'lxc', vmid: 204 }, 300);
    expect(outcome).toBe('forced');
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(guest.status).toBe('stopped');
    expect(px.actions).toEqual(['shutdown lxc/204', 'stop lxc/204']);
    const stop = px.requests.find((r) => r.path.endsWith('/status/stop'))!;
    expect(new URLSearchParams(stop.body).get('overrule-shutdown')).toBe('1');
    // The stop's task was followed to its end.
    expect(px.requests.some((r) => r.path.startsWith('/api2/json/nodes/pve2/tasks/UPID'))).toBe(true);
  });

  it('an already stopped guest: no shutdown call at all', async () => {
    px.addGuest('pve1', 'qemu', 105, { status: 'stopped' });
    expect(await control(px).shutdown({ node: 'pve1', kind: 'qemu', vmid: 105 }, 1000)).toBe(
      'already_stopped',
    );
    expect(px.requests.map((r) => r.method)).toEqual(['GET']);
    expect(px.actions).toEqual([]);
  });

  it('start waits for the task and reports a failed one', async () => {
    const ok = px.addGuest('pve1', 'qemu', 106, { status: 'stopped' });
    await control(px).start({ node: 'pve1', kind: 'qemu', vmid: 106 });
    expect(ok.status).toBe('running');
    px.addGuest('pve1', 'qemu', 107, { status: 'stopped', failStart: true });
    const error = await control(px)
      .start({ node: 'pve1', kind: 'qemu', vmid: 107 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProxmoxApiError);
    expect((error as Error).message).toContain('start failed: storage offline');
  });

  it('a wrong token is an error with the status, and the secret is in no message', async () => {
    px.addGuest('pve1', 'qemu', 108, {});
    const servers = createProxmoxServerControl({
      client: createProxmoxClient({ apiUrl: px.url, tokenId: px.tokenId, tokenSecret: 'wrong-secret-value' }),
    });
    const error = await servers.status({ node: 'pve1', kind: 'qemu', vmid: 108 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProxmoxApiError);
    expect((error as ProxmoxApiError).status).toBe(401);
    expect((error as Error).message).not.toContain('wrong-secret-value');
  });
});

describe('Proxmox over TLS with a self-signed certificate', () => {
  let dir: string;
  let px: ProxmoxStandin;
  let cert: Buffer;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pve-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    cert = fs.readFileSync(path.join(dir, 'cert.pem'));
    px = await startProxmoxStandin({ tls: { key: fs.readFileSync(path.join(dir, 'key.pem')), cert } });
    px.addGuest('pve1', 'qemu', 301, { status: 'running' });
  });
  afterAll(async () => {
    await px.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const ref = { node: 'pve1', kind: 'qemu', vmid: 301 } as const;

  it('refuses the certificate without the CA', async () => {
    const error = await control(px)
      .status(ref)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProxmoxApiError);
    expect((error as Error).message).toMatch(/self[- ]signed|certificate/i);
  });

  it('trusts it with PROXMOX_CA_PATH', async () => {
    expect(await control(px, { ca: cert }).status(ref)).toBe('running');
  });

  it('PROXMOX_TLS_INSECURE connects without verifying, and says so in the log', async () => {
    const lines: string[] = [];
    const logger = pino(
      { level: 'warn' },
      new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    );
    const servers = createProxmoxServerControl({
      client: createProxmoxClient({
        apiUrl: px.url,
        tokenId: px.tokenId,
        tokenSecret: px.tokenSecret,
        insecure: true,
        logger,
      }),
    });
    expect(await servers.status(ref)).toBe('running');
    expect(lines.join('')).toContain('NOT verified');
    expect(lines.join('')).not.toContain(px.tokenSecret);
  });
});

describe('suspendServers / restoreServers with the Proxmox adapter', () => {
  let px: ProxmoxStandin;
  beforeAll(async () => {
    px = await startProxmoxStandin();
  });
  afterAll(async () => {
    await px.close();
  });

  it('stops the running servers (hard stop for a hung one), and on restore starts only those that were running', async () => {
    const { accountId, vmids } = await seedAccount({ servers: ['running', 'stopped', 'running'] });
    const [a, b, c] = vmids as [number, number, number];
    // The seed says qemu on pve1; the hypervisor holds the truth about power states.
    px.addGuest('pve1', 'qemu', a, { status: 'running', shutdownMs: 30 });
    px.addGuest('pve1', 'qemu', b, { status: 'stopped' });
    const hung = px.addGuest('pve1', 'qemu', c, { status: 'running', shutdownMs: Infinity });
    const activities = createActivities({
      ...recordingDeps(),
      logger: createLogger('silent'),
      servers: control(px),
    });
    const ids = { accountId, workflowId: `billing-enforcement:${accountId}`, runId: 'run-1' };

    const suspended = await activities.suspendServers({
      ...ids,
      dryRun: false,
      shutdownTimeoutMs: 300,
      at: new Date().toISOString(),
      step: '3:suspended',
    });
    expect(suspended.suspended).toEqual([a, b, c]);
    expect(px.actions).toEqual([`shutdown qemu/${a}`, `shutdown qemu/${c}`, `stop qemu/${c}`]);
    expect(hung.status).toBe('stopped');
    const rows = await db().server.findMany({ where: { accountId }, orderBy: { vmid: 'asc' } });
    expect(rows.map((r) => [r.vmid, r.billingSuspended, r.powerStateBeforeSuspend])).toEqual([
      [a, true, 'running'],
      [b, true, 'stopped'],
      [c, true, 'running'],
    ]);

    // A retry of the same step (at-least-once) touches nothing.
    px.actions.length = 0;
    const again = await activities.suspendServers({
      ...ids,
      dryRun: false,
      shutdownTimeoutMs: 300,
      at: new Date().toISOString(),
      step: '3:suspended',
    });
    expect(again.alreadySuspended).toEqual([a, b, c]);
    expect(px.actions).toEqual([]);

    const restored = await activities.restoreServers({
      ...ids,
      restart: true,
      dryRun: false,
      step: '4:restored',
    });
    expect(restored.started).toEqual([a, c]);
    expect(restored.unmarked).toEqual([a, b, c]);
    expect(px.actions).toEqual([`start qemu/${a}`, `start qemu/${c}`]);
    expect([...px.guests.values()].map((g) => g.status)).toEqual(['running', 'stopped', 'running']);
    const after = await db().server.findMany({ where: { accountId }, orderBy: { vmid: 'asc' } });
    expect(after.every((r) => !r.billingSuspended && r.powerStateBeforeSuspend === null)).toBe(true);
  });
});
