// `billing audit <account>`: the audit trail (BillingEnforcementEvent), oldest first.
import { type Command } from 'commander';
import { auditTrail } from '../../accounts/audit-trail.js';
import { printJson, println, requireAccount, wholeNumber, withRealDeps, type CliDeps } from '../runtime.js';

/** The detail's plain values, e.g. "{dispute=dp_1 haltedMs=0}": what a row was about, at a glance. */
function detailSummary(detail: unknown): string {
  if (!detail || typeof detail !== 'object' || Array.isArray(detail)) return '';
  const parts = Object.entries(detail as Record<string, unknown>)
    .filter(([, v]) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
    .map(([k, v]) => `${k}=${String(v)}`);
  return parts.length > 0 ? `  {${parts.join(' ')}}` : '';
}

export async function runAudit(
  deps: Pick<CliDeps, 'db' | 'out'>,
  accountId: string,
  options: { json?: boolean; limit?: number },
) {
  await requireAccount(deps.db, accountId);
  const events = await auditTrail(deps.db, accountId, options.limit ?? 200);
  if (options.json) {
    printJson(deps.out, { accountId, events });
    return;
  }
  if (events.length === 0) println(deps.out, 'no audit events');
  for (const e of events) {
    println(
      deps.out,
      `${e.createdAt.toISOString()}  ${e.kind.padEnd(34)} ${e.actor}${e.dryRun ? ' [dry-run]' : ''}${e.reason ? `: ${e.reason}` : ''}${detailSummary(e.detail)}`,
    );
  }
}

export function registerAudit(program: Command) {
  program
    .command('audit')
    .description("an account's audit trail, oldest first")
    .argument('<account>', 'account id')
    .option('--limit <n>', 'the latest n events', wholeNumber('--limit', 1), 200)
    .option('--json', 'print JSON')
    .action((accountId: string, options: { json?: boolean; limit?: number }) =>
      withRealDeps((deps) => runAudit(deps, accountId, options)),
    );
}
