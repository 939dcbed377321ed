// Stands in for the Proxmox VE API calls the adapter makes: guest status, shutdown, stop and
// start as UPID tasks, task status. Guests can be told to ignore a graceful shutdown (a hung
// guest OS) or to take a while; a start can be told to fail.
import { startStandin, type Reply, type Standin } from './http.js';

export interface Guest {
  status: 'running' | 'stopped';
  /** How long a graceful shutdown takes; Infinity: the guest ignores it. */
  shutdownMs: number;
  failStart?: boolean;
}

interface Task {
  status: 'running' | 'stopped';
  exitstatus?: string;
  doneAt: number;
  finalExit: string;
  effect?: () => void;
}

export interface ProxmoxStandin extends Standin {
  tokenId: string;
  tokenSecret: string;
  guests: Map<string, Guest>;
  addGuest(node: string, kind: 'qemu' | 'lxc', vmid: number, guest: Partial<Guest>): Guest;
  /** "POST qemu/101 shutdown"-style log of the power actions received. */
  actions: string[];
}

const json = (status: number, data: unknown): Reply => ({
  status,
  headers: { 'content-type': 'application/json;charset=UTF-8' },
  body: JSON.stringify({ data }),
});

export async function startProxmoxStandin(
  options: { tls?: { key: string | Buffer; cert: string | Buffer } } = {},
): Promise<ProxmoxStandin> {
  const tokenId = 'billing@pve!enforcement';
  const tokenSecret = '0b5f3c1e-7a2d-4c8e-9f10-1234567890ab';
  const guests = new Map<string, Guest>();
  const tasks = new Map<string, Task>();
  const actions: string[] = [];
  let taskSeq = 0;

  const newTask = (
    node: string,
    type: string,
    vmid: string,
    delayMs: number,
    finalExit: string,
    effect?: () => void,
  ) => {
    const upid = `UPID:${node}:0000${(++taskSeq).toString(16).padStart(4, '0')}:00ABCDEF:${Math.floor(
      Date.now() / 1000,
    )
      .toString(16)
      .toUpperCase()}:${type}:${vmid}:${tokenId}:`;
    tasks.set(upid, {
      status: 'running',
      doneAt: Date.now() + delayMs,
      finalExit,
      ...(effect ? { effect } : {}),
    });
    return upid;
  };
  const settle = () => {
    for (const task of tasks.values()) {
      if (task.status === 'running' && Date.now() >= task.doneAt) {
        task.status = 'stopped';
        task.exitstatus = task.finalExit;
        task.effect?.();
      }
    }
  };

  const standin = await startStandin((req) => {
    if (req.headers.authorization !== `PVEAPIToken=${tokenId}=${tokenSecret}`)
      return { status: 401, body: '' };
    settle();
    const parts = req.path.split('/').map(decodeURIComponent);
    // ['', 'api2', 'json', 'nodes', node, ...]
    if (parts[1] !== 'api2' || parts[2] !== 'json' || parts[3] !== 'nodes') return json(501, null);
    const node = parts[4]!;
    if (parts[5] === 'tasks' && parts[7] === 'status' && req.method === 'GET') {
      const task = tasks.get(parts[6]!);
      if (!task) return json(500, null);
      return json(200, {
        upid: parts[6],
        status: task.status,
        ...(task.exitstatus ? { exitstatus: task.exitstatus } : {}),
      });
    }
    const [kind, vmid, status, action] = [parts[5]!, parts[6]!, parts[7], parts[8]];
    const guest = guests.get(`${node}/${kind}/${vmid}`);
    if (!guest || status !== 'status') return json(500, null);
    if (req.method === 'GET' && action === 'current')
      return json(200, { vmid: Number(vmid), status: guest.status });
    if (req.method !== 'POST') return json(501, null);
    actions.push(`${action} ${kind}/${vmid}`);
    switch (action) {
      case 'shutdown': {
        if (guest.status === 'stopped')
          return json(200, newTask(node, `${kind === 'qemu' ? 'qm' : 'vz'}shutdown`, vmid, 0, 'OK'));
        const timeoutMs = Number(new URLSearchParams(req.body).get('timeout') ?? '60') * 1000;
        const obeys = Number.isFinite(guest.shutdownMs);
        const upid = newTask(
          node,
          `${kind === 'qemu' ? 'qm' : 'vz'}shutdown`,
          vmid,
          obeys ? guest.shutdownMs : timeoutMs,
          obeys ? 'OK' : 'VM quit/powerdown failed',
          obeys ? () => (guest.status = 'stopped') : undefined,
        );
        return json(200, upid);
      }
      case 'stop':
        return json(
          200,
          newTask(
            node,
            `${kind === 'qemu' ? 'qm' : 'vz'}stop`,
            vmid,
            20,
            'OK',
            () => (guest.status = 'stopped'),
          ),
        );
      case 'start':
        return json(
          200,
          newTask(
            node,
            `${kind === 'qemu' ? 'qm' : 'vz'}start`,
            vmid,
            20,
            guest.failStart ? 'start failed: storage offline' : 'OK',
            () => {
              if (!guest.failStart) guest.status = 'running';
            },
          ),
        );
      default:
        return json(501, null);
    }
  }, options);

  return Object.assign(standin, {
    tokenId,
    tokenSecret,
    guests,
    actions,
    addGuest(node: string, kind: 'qemu' | 'lxc', vmid: number, guest: Partial<Guest>) {
      const full: Guest = { status: 'running', shutdownMs: 50, ...guest };
      guests.set(`${node}/${kind}/${vmid}`, full);
      return full;
    },
  });
}
