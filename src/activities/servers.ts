// What the ladder does to the account's resources: backups blocked at the final warning, servers
// stopped at suspension, both lifted on restore. Dry-run records what would have been done.
import { type PrismaClient } from '../platform/database.js';
import { type ServerControl } from '../adapters/ports/server-control.js';
import { heartbeat } from './attempt.js';
import { stepKey, type AuditHelpers } from './audit-writer.js';
import { type Enforcing } from './enforcing.js';

export function serverActivities(
  deps: { db: PrismaClient; servers: ServerControl },
  shared: { audit: AuditHelpers; enforcing: Enforcing },
) {
  const { db } = deps;
  const { audit, enforcing } = shared;

  return {
    async setBackupsBlocked(input: {
      accountId: string;
      blocked: boolean;
      dryRun: boolean;
      idempotencyKey: string;
      at: string;
      workflowId: string;
      runId: string;
    }): Promise<void> {
      await enforcing('set backups blocked', input, input.idempotencyKey, async () => {
        await audit.requireAccountFlags(input.accountId);
        if (input.dryRun) {
          await audit.recordWouldDo(
            input,
            input.blocked ? 'would_block_backups' : 'would_unblock_backups',
            input.idempotencyKey,
          );
          return;
        }
        await db.billingAccount.update({
          where: { id: input.accountId },
          data: { backupsBlocked: input.blocked },
        });
      });
    },

    /**
     * Stops every server of the account: remembers the power state first (so a retry after a
     * crash cannot mistake "stopped by us" for "was stopped"), then graceful shutdown with a
     * hard stop after the timeout, then marks it billing-suspended. Heartbeats per server.
     */
    async suspendServers(input: {
      accountId: string;
      dryRun: boolean;
      shutdownTimeoutMs: number;
      at: string;
      workflowId: string;
      runId: string;
      step: string;
    }): Promise<{ suspended: number[]; alreadySuspended: number[]; wouldSuspend: number[] }> {
      return enforcing('suspend servers', input, stepKey(input), async () => {
        const servers = await db.server.findMany({
          where: { accountId: input.accountId },
          orderBy: { vmid: 'asc' },
        });
        const result = {
          suspended: [] as number[],
          alreadySuspended: [] as number[],
          wouldSuspend: [] as number[],
        };
        if (input.dryRun) {
          result.wouldSuspend = servers.filter((s) => !s.billingSuspended).map((s) => s.vmid);
          await audit.recordWouldDo(input, 'would_suspend_servers', stepKey(input), {
            step: input.step,
            detail: { vmids: result.wouldSuspend },
          });
          return result;
        }
        for (const server of servers) {
          heartbeat({ vmid: server.vmid });
          if (server.billingSuspended) {
            result.alreadySuspended.push(server.vmid);
            continue;
          }
          const ref = { vmid: server.vmid, node: server.node, kind: server.kind };
          let before = server.powerStateBeforeSuspend;
          if (!before) {
            before = await deps.servers.status(ref);
            await db.server.update({ where: { id: server.id }, data: { powerStateBeforeSuspend: before } });
          }
          await deps.servers.shutdown(ref, input.shutdownTimeoutMs);
          await db.server.update({
            where: { id: server.id },
            data: { billingSuspended: true, suspendedAt: new Date(input.at) },
          });
          result.suspended.push(server.vmid);
        }
        return result;
      });
    },

    /** Lifts the suspension; starts only the servers that were running before it. */
    async restoreServers(input: {
      accountId: string;
      restart: boolean;
      dryRun: boolean;
      workflowId: string;
      runId: string;
      step: string;
    }): Promise<{ started: number[]; unmarked: number[] }> {
      return enforcing('restore servers', input, stepKey(input), async () => {
        const servers = await db.server.findMany({
          where: { accountId: input.accountId, billingSuspended: true },
          orderBy: { vmid: 'asc' },
        });
        const result = { started: [] as number[], unmarked: [] as number[] };
        for (const server of servers) {
          heartbeat({ vmid: server.vmid });
          const ref = { vmid: server.vmid, node: server.node, kind: server.kind };
          if (
            input.restart &&
            server.powerStateBeforeSuspend === 'running' &&
            (await deps.servers.status(ref)) !== 'running'
          ) {
            await deps.servers.start(ref);
            result.started.push(server.vmid);
          }
          await db.server.update({
            where: { id: server.id },
            data: { billingSuspended: false, powerStateBeforeSuspend: null, suspendedAt: null },
          });
          result.unmarked.push(server.vmid);
        }
        return result;
      });
    },
  };
}
