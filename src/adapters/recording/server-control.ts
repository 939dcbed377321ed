import { type PrismaClient } from '../../platform/database.js';
import { type PowerState, type ServerControl, type ServerRef } from '../ports/server-control.js';
import { keepRecent } from './recent.js';

/**
 * Keeps power states in the Server table: local development and tests see exactly which
 * servers the ladder stopped and started, with no hypervisor.
 */
export function createRecordingServerControl(db: PrismaClient): ServerControl & { calls: string[] } {
  const calls: string[] = [];
  const read = async (server: ServerRef): Promise<PowerState> => {
    const row = await db.server.findUnique({ where: { vmid: server.vmid }, select: { powerState: true } });
    return row?.powerState === 'running' ? 'running' : 'stopped';
  };
  const write = (server: ServerRef, powerState: PowerState) =>
    db.server.update({ where: { vmid: server.vmid }, data: { powerState } });
  return {
    kind: 'recording',
    calls,
    status: read,
    async shutdown(server) {
      if ((await read(server)) === 'stopped') return 'already_stopped';
      keepRecent(calls, `shutdown:${server.vmid}`);
      await write(server, 'stopped');
      return 'graceful';
    },
    async start(server) {
      keepRecent(calls, `start:${server.vmid}`);
      await write(server, 'running');
    },
  };
}
