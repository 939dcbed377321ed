// The main API owns accounts and their servers; it keeps this service's copy in sync with an
// idempotent PUT. Servers dropped from the list are forgotten, unless this service suspended
// them (their recorded power state is what a restore needs).
import { z } from 'zod';
import { type PrismaClient } from '../platform/database.js';
import { text } from '../platform/text.js';

export const serverSchema = z
  .object({
    vmid: z.number().int().min(100).max(999_999_999),
    node: text(1, 100),
    kind: z.enum(['qemu', 'lxc']),
    name: text(0, 200).nullish(),
  })
  .strict();

export const accountSyncSchema = z
  .object({
    stripeCustomerId: z
      .string()
      .regex(/^cus_[A-Za-z0-9_]+$/, 'a Stripe customer id (cus_…)')
      .nullable(),
    // zod's own email rule, stated as the pattern it is (a `format: email` would let each
    // reader apply its own idea of an address).
    email: z.string().max(254).regex(z.regexes.email, 'an email address').nullish(),
    name: text(0, 200).nullish(),
    servers: z.array(serverSchema).max(1000).default([]),
  })
  .strict()
  .describe(
    'The servers are the full list: servers no longer listed are forgotten (unless suspended by this service). A vmid listed more than once counts once if its entries agree; entries that disagree are a 409.',
  );

export type AccountSync = z.infer<typeof accountSyncSchema>;

export class AccountConflictError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
    this.name = 'AccountConflictError';
  }
}

export interface SyncResult {
  accountId: string;
  created: boolean;
  servers: { added: number; updated: number; removed: number; keptSuspended: number[] };
}

/**
 * A vmid listed twice with the same details is one server; with different details the list
 * contradicts itself (which node is it on?), and nothing is written.
 */
function distinctServers(servers: AccountSync['servers']): AccountSync['servers'] {
  const byVmid = new Map<number, AccountSync['servers'][number]>();
  for (const server of servers) {
    const seen = byVmid.get(server.vmid);
    if (!seen) byVmid.set(server.vmid, server);
    else if (
      seen.node !== server.node ||
      seen.kind !== server.kind ||
      (seen.name ?? null) !== (server.name ?? null)
    ) {
      throw new AccountConflictError(
        `server ${server.vmid} is listed twice with different details`,
        'servers',
      );
    }
  }
  return [...byVmid.values()];
}

export async function syncAccount(
  db: PrismaClient,
  accountId: string,
  body: AccountSync,
): Promise<SyncResult> {
  return db.$transaction(async (tx) => {
    // One writer per account at a time: two syncs of the same account cannot interleave.
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`account-sync:${accountId}`}))`;
    if (body.stripeCustomerId) {
      const owner = await tx.billingAccount.findUnique({
        where: { stripeCustomerId: body.stripeCustomerId },
        select: { id: true },
      });
      if (owner && owner.id !== accountId) {
        throw new AccountConflictError('this Stripe customer belongs to another account', 'stripeCustomerId');
      }
    }
    const servers = distinctServers(body.servers);
    const vmids = servers.map((s) => s.vmid);
    const taken = await tx.server.findMany({
      where: { vmid: { in: vmids }, accountId: { not: accountId } },
      select: { vmid: true },
    });
    if (taken.length > 0) {
      throw new AccountConflictError(
        `server(s) ${taken.map((t) => t.vmid).join(', ')} belong to another account`,
        'servers',
      );
    }

    const existing = await tx.billingAccount.findUnique({ where: { id: accountId }, select: { id: true } });
    const fields = {
      stripeCustomerId: body.stripeCustomerId,
      email: body.email ?? null,
      name: body.name ?? null,
    };
    await tx.billingAccount.upsert({
      where: { id: accountId },
      create: { id: accountId, ...fields },
      update: fields,
    });

    const current = await tx.server.findMany({ where: { accountId } });
    const byVmid = new Map(current.map((s) => [s.vmid, s]));
    let added = 0;
    let updated = 0;
    for (const server of servers) {
      const data = { node: server.node, kind: server.kind, name: server.name ?? null };
      const row = byVmid.get(server.vmid);
      if (!row) {
        await tx.server.create({ data: { accountId, vmid: server.vmid, ...data } });
        added++;
      } else if (row.node !== data.node || row.kind !== data.kind || row.name !== data.name) {
        await tx.server.update({ where: { id: row.id }, data });
        updated++;
      }
    }
    const listed = new Set(vmids);
    const dropped = current.filter((s) => !listed.has(s.vmid));
    const keptSuspended = dropped.filter((s) => s.billingSuspended).map((s) => s.vmid);
    const removable = dropped.filter((s) => !s.billingSuspended).map((s) => s.id);
    if (removable.length > 0) await tx.server.deleteMany({ where: { id: { in: removable } } });
    return {
      accountId,
      created: !existing,
      servers: { added, updated, removed: removable.length, keptSuspended },
    };
  });
}
