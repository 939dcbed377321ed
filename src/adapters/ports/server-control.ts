// Port for switching customers' servers on and off. Adapters: recording (power states kept in the
// database, for local development and tests) and Proxmox VE.

export type PowerState = 'running' | 'stopped';

export interface ServerRef {
  vmid: number;
  node: string;
  kind: 'qemu' | 'lxc';
}

export interface ServerControl {
  readonly kind: 'recording' | 'proxmox';
  status(server: ServerRef): Promise<PowerState>;
  /** Graceful shutdown; a hard stop when it has not finished within the timeout. */
  shutdown(server: ServerRef, timeoutMs: number): Promise<'graceful' | 'forced' | 'already_stopped'>;
  start(server: ServerRef): Promise<void>;
}
