// `billing accounts import <file.json>`: a JSON array of accounts with their servers, upserted
// idempotently (a second run of the same file changes nothing). Billing state is never touched:
// only the ladder moves it. Servers missing from the file are left alone — nothing is deleted.
import fs from 'node:fs/promises';
import { type Command } from 'commander';
import { z } from 'zod';
import { isUniqueViolation, type PrismaClient } from '../../platform/database.js';
import { CliError, EXIT, printJson, println, withRealDeps, type CliDeps } from '../runtime.js';

const serverSchema = z
  .object({
    vmid: z.number().int().positive().max(2_147_483_647),
    node: z.string().trim().min(1).max(200),
    kind: z.enum(['qemu', 'lxc']).default('qemu'),
    name: z.string().trim().max(200).nullish(),
  })
  .strict();

export const importAccountSchema = z
  .object({
    id: z.string().trim().min(1).max(200),
    stripeCustomerId: z.string().trim().startsWith('cus_', 'expected a Stripe customer id (cus_…)').nullish(),
    email: z.email().nullish(),
    name: z.string().trim().max(200).nullish(),
    servers: z.array(serverSchema).default([]),
  })
  .strict();

export const importFileSchema = z.array(importAccountSchema).superRefine((accounts, ctx) => {
  const ids = new Map<string, number>();
  const vmids = new Map<number, number>();
  accounts.forEach((a, i) => {
    if (ids.has(a.id))
      ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate of entry ${ids.get(a.id)}` });
    ids.set(a.id, i);
    a.servers.forEach((s, j) => {
      if (vmids.has(s.vmid))
        ctx.addIssue({
          code: 'custom',
          path: [i, 'servers', j, 'vmid'],
          message: `vmid ${s.vmid} appears twice`,
        });
      vmids.set(s.vmid, i);
    });
  });
});

export type ImportAccount = z.infer<typeof importAccountSchema>;
type Outcome = 'created' | 'updated' | 'unchanged' | 'failed';

export interface ImportSummary {
  total: number;
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
  failures: { id: string; error: string }[];
}

async function upsertAccount(db: PrismaClient, a: ImportAccount): Promise<Exclude<Outcome, 'failed'>> {
  return db.$transaction(async (tx) => {
    const existing = await tx.billingAccount.findUnique({
      where: { id: a.id },
      select: { stripeCustomerId: true, email: true, name: true },
    });
    const fields = {
      stripeCustomerId: a.stripeCustomerId ?? null,
      email: a.email ?? null,
      name: a.name ?? null,
    };
    let outcome: Exclude<Outcome, 'failed'> = 'unchanged';
    if (!existing) {
      await tx.billingAccount.create({ data: { id: a.id, ...fields } });
      outcome = 'created';
    } else if (
      existing.stripeCustomerId !== fields.stripeCustomerId ||
      existing.email !== fields.email ||
      existing.name !== fields.name
    ) {
      await tx.billingAccount.update({ where: { id: a.id }, data: fields });
      outcome = 'updated';
    }
    for (const s of a.servers) {
      const server = await tx.server.findUnique({
        where: { vmid: s.vmid },
        select: { accountId: true, node: true, kind: true, name: true },
      });
      const data = { node: s.node, kind: s.kind, name: s.name ?? null };
      if (!server) {
        await tx.server.create({ data: { accountId: a.id, vmid: s.vmid, ...data } });
        if (outcome === 'unchanged') outcome = 'updated';
      } else if (server.accountId !== a.id) {
        // Moving a server between accounts would move its billing suspension too: a person's call.
        throw new CliError(`server ${s.vmid} belongs to account ${server.accountId}`);
      } else if (server.node !== data.node || server.kind !== data.kind || server.name !== data.name) {
        await tx.server.update({ where: { vmid: s.vmid }, data });
        if (outcome === 'unchanged') outcome = 'updated';
      }
    }
    return outcome;
  });
}

export async function runImport(
  deps: Pick<CliDeps, 'db' | 'out' | 'err'>,
  file: string,
  options: { json?: boolean },
): Promise<ImportSummary> {
  let raw: unknown;
  try {
    raw = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CliError(
      `cannot read ${file}: ${reason}`,
      (error as { code?: string }).code === 'ENOENT' ? EXIT.notFound : EXIT.dataError,
    );
  }
  const parsed = importFileSchema.safeParse(raw);
  if (!parsed.success) {
    // All or nothing on validation: a half-imported file is harder to reason about than none.
    const problems = parsed.error.issues
      .slice(0, 50)
      .map((i) => `  [${i.path.map(String).join('.') || 'file'}] ${i.message}`);
    throw new CliError(
      `${file} is not a valid account list (nothing was imported):\n${problems.join('\n')}${parsed.error.issues.length > 50 ? `\n  … ${parsed.error.issues.length - 50} more` : ''}`,
      EXIT.dataError,
    );
  }
  const accounts = parsed.data;
  const summary: ImportSummary = {
    total: accounts.length,
    created: 0,
    updated: 0,
    unchanged: 0,
    failed: 0,
    failures: [],
  };
  const width = String(accounts.length).length;
  for (const [i, account] of accounts.entries()) {
    let outcome: Outcome;
    try {
      outcome = await upsertAccount(deps.db, account);
    } catch (error) {
      outcome = 'failed';
      const message =
        error instanceof CliError
          ? error.message
          : isUniqueViolation(error)
            ? 'stripeCustomerId already belongs to another account'
            : error instanceof Error
              ? error.message
              : String(error);
      summary.failures.push({ id: account.id, error: message });
    }
    summary[outcome]++;
    println(
      deps.err,
      `[${String(i + 1).padStart(width)}/${accounts.length}] ${account.id} ${outcome}${outcome === 'failed' ? `: ${summary.failures.at(-1)!.error}` : ''}`,
    );
  }
  if (options.json) printJson(deps.out, summary);
  else
    println(
      deps.out,
      `imported ${summary.total} accounts: ${summary.created} created, ${summary.updated} updated, ${summary.unchanged} unchanged, ${summary.failed} failed`,
    );
  if (summary.failed > 0) throw new CliError(`${summary.failed} account(s) failed to import`, EXIT.failure);
  return summary;
}

export function registerAccounts(program: Command) {
  const accounts = program.command('accounts').description('manage the account directory');
  accounts
    .command('import')
    .description(
      'upsert accounts and their servers from a JSON array ({id, stripeCustomerId, email, name, servers})',
    )
    .argument('<file>', 'path to the JSON file')
    .option('--json', 'print the summary as JSON')
    .action((file: string, options: { json?: boolean }) =>
      withRealDeps(async (deps) => {
        await runImport(deps, file, options);
      }),
    );
}
