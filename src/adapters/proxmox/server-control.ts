import { type Logger } from '../../platform/logger.js';
import { type PowerState, type ServerControl, type ServerRef } from '../ports/server-control.js';
import { ProxmoxApiError, type ProxmoxClient } from './client.js';

export interface ProxmoxServerControlOptions {
  client: ProxmoxClient;
  logger?: Logger;
  /** How often a shutdown, stop or start is checked on. */
  pollIntervalMs?: number;
  /** How long a hard stop or a start may take before the call counts as failed (and is retried). */
  taskTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

interface TaskStatus {
  status: 'running' | 'stopped';
  exitstatus?: string;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Server control on Proxmox VE (qemu and lxc guests), with an API token. Shutdown is graceful
 * first: the guest gets the timeout to power off, then it is stopped hard. Every call is safe to
 * repeat, since the activity calling it is retried.
 */
export function createProxmoxServerControl(options: ProxmoxServerControlOptions): ServerControl {
  const { client } = options;
  const pollMs = options.pollIntervalMs ?? 2000;
  const taskTimeoutMs = options.taskTimeoutMs ?? 60_000;
  const sleep = options.sleep ?? realSleep;
  const now = options.now ?? Date.now;

  const guest = (s: ServerRef) =>
    `/nodes/${encodeURIComponent(s.node)}/${s.kind}/${encodeURIComponent(String(s.vmid))}`;

  async function status(server: ServerRef): Promise<PowerState> {
    const current = await client.get<{ status?: string }>(`${guest(server)}/status/current`);
    // qemu "paused" and friends still hold the guest's memory: only "stopped" is off.
    return current?.status === 'stopped' ? 'stopped' : 'running';
  }

  async function waitForState(server: ServerRef, want: PowerState, deadline: number): Promise<boolean> {
    for (;;) {
      if ((await status(server)) === want) return true;
      const left = deadline - now();
      if (left <= 0) return false;
      await sleep(Math.min(pollMs, left));
    }
  }

  async function waitForTask(server: ServerRef, upid: string, what: string): Promise<void> {
    const deadline = now() + taskTimeoutMs;
    for (;;) {
      const task = await client.get<TaskStatus>(
        `/nodes/${encodeURIComponent(server.node)}/tasks/${encodeURIComponent(upid)}/status`,
      );
      if (task.status === 'stopped') {
        if (task.exitstatus === 'OK') return;
        throw new ProxmoxApiError(
          `${what} of ${server.kind} ${server.vmid} failed: ${task.exitstatus ?? '?'}`,
        );
      }
      if (now() >= deadline) {
        throw new ProxmoxApiError(
          `${what} of ${server.kind} ${server.vmid} still running after ${taskTimeoutMs} ms`,
        );
      }
      await sleep(pollMs);
    }
  }

  return {
    kind: 'proxmox',
    status,

    async shutdown(server, timeoutMs) {
      if ((await status(server)) === 'stopped') return 'already_stopped';
      const deadline = now() + timeoutMs;
      // Proxmox's own timeout ends its shutdown task about when we give up waiting.
      await client.post<string>(`${guest(server)}/status/shutdown`, {
        timeout: Math.max(1, Math.ceil(timeoutMs / 1000)),
      });
      if (await waitForState(server, 'stopped', deadline)) return 'graceful';
      options.logger?.warn(
        { vmid: server.vmid, node: server.node, kind: server.kind, timeoutMs },
        'graceful shutdown did not finish in time: stopping hard',
      );
      // overrule-shutdown (PVE >= 8.1) aborts the shutdown task that still holds the guest's lock.
      const upid = await client.post<string>(`${guest(server)}/status/stop`, { 'overrule-shutdown': 1 });
      await waitForTask(server, upid, 'hard stop');
      return 'forced';
    },

    async start(server) {
      if ((await status(server)) === 'running') return;
      const upid = await client.post<string>(`${guest(server)}/status/start`);
      await waitForTask(server, upid, 'start');
    },
  };
}
