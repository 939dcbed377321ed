// The Discord message for a notification: account state, amount due and a link to the workflow,
// never the customer's name or address (Discord is no place for personal data).
import { type BillingState } from '../workflows/definitions.js';
import { type PrismaClient } from '../platform/database.js';
import { formatAmount } from '../notifications/email-templates.js';
import { type ChatChannel, type ChatMessage } from '../adapters/ports/notifications.js';

export interface DiscordInput {
  accountId: string | null;
  channel: ChatChannel;
  idempotencyKey: string;
  title: string;
  state?: BillingState;
  nextActionAt?: string | null;
  detail?: string;
  dryRun?: boolean;
  workflowId?: string;
}

const EMAIL_ADDRESS = /[^\s@<>()"',;:]+@[^\s@<>()"',;:]+\.[^\s@<>()"',;:]+/g;

/** Discord is no place for customer email addresses, even inside a provider's error text. */
export function redactEmailAddresses(text: string): string {
  return text.replace(EMAIL_ADDRESS, '[email redacted]');
}

const COLORS: Record<BillingState | 'ops', number> = {
  active: 0x2ecc71,
  overdue: 0xf1c40f,
  final_warning: 0xe67e22,
  suspended: 0xe74c3c,
  retained: 0x8e44ad,
  ops: 0x3498db,
};

/** What the account owes now: the open invoices in the currency of the latest one. */
export async function amountOwed(db: PrismaClient, accountId: string) {
  const invoices = await db.invoice.findMany({
    where: { accountId, status: { in: ['open', 'uncollectible'] } },
    orderBy: { lastEventCreatedAt: 'desc' },
  });
  const latest = invoices[0];
  if (!latest) return null;
  const same = invoices.filter((i) => i.currency === latest.currency);
  return {
    cents: same.reduce((sum, i) => sum + i.amountDue, 0),
    currency: latest.currency,
    hostedInvoiceUrl: latest.hostedInvoiceUrl,
  };
}

export function createChatMessageBuilder(deps: {
  db: PrismaClient;
  temporalUiUrl: string;
  temporalNamespace: string;
}) {
  const { db } = deps;

  const workflowLink = (workflowId: string) =>
    `${deps.temporalUiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(deps.temporalNamespace)}/workflows/${encodeURIComponent(workflowId)}`;

  /** Account state and amount due for the embed; never the customer's name or address. */
  async function accountFacts(accountId: string | null) {
    if (!accountId) return { state: undefined, owed: null };
    const account = await db.billingAccount.findUnique({ where: { id: accountId }, select: { state: true } });
    return { state: account?.state, owed: await amountOwed(db, accountId) };
  }

  return async function chatMessage(input: DiscordInput): Promise<ChatMessage> {
    const facts = await accountFacts(input.accountId);
    const state = input.state ?? facts.state;
    const fields: { name: string; value: string }[] = [];
    if (input.accountId) fields.push({ name: 'Account', value: input.accountId });
    if (state) fields.push({ name: 'State', value: state });
    if (facts.owed)
      fields.push({ name: 'Amount due', value: formatAmount(facts.owed.cents, facts.owed.currency) });
    if (input.nextActionAt)
      fields.push({ name: 'Next action', value: new Date(input.nextActionAt).toISOString() });
    if (input.dryRun) fields.push({ name: 'Mode', value: 'dry-run (nothing was done to the customer)' });
    if (input.workflowId)
      fields.push({
        name: 'Workflow',
        value: `[open in the Temporal UI](${workflowLink(input.workflowId)})`,
      });
    return {
      title: redactEmailAddresses(input.title),
      description: redactEmailAddresses(input.detail ?? ''),
      fields: fields.map((f) => ({ name: f.name, value: redactEmailAddresses(f.value) })),
      color: input.channel === 'ops' ? COLORS.ops : COLORS[state ?? 'overdue'],
      ...(input.workflowId ? { url: workflowLink(input.workflowId) } : {}),
    };
  };
}

export type ChatMessageBuilder = ReturnType<typeof createChatMessageBuilder>;
