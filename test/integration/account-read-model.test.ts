// One truth about an account on every surface. A scenario matrix (an invoice below the minimum,
// one marked uncollectible, two at once, a void, a dispute, a restore by payment, an admin's
// forced restore after a deletion review) is driven through the signed webhook and the admin API
// against the real database and a real (time-skipping) Temporal server; after each step the CLI
// (`billing status`, its text and its JSON), the admin API, the billing API, the Portal's
// announcement and the workflow's status query are read and each must say what the step means:
// the same state, the same invoices driving the ladder, the same amounts, flags, dispute,
// deletion review and restore — and what a restore ended as history, not as a current flag.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FastifyInstance } from 'fastify';
import { runStatus } from '../../src/cli/commands/status.js';
import { type CliDeps } from '../../src/cli/runtime.js';
import { formatAmount } from '../../src/notifications/email-templates.js';
import { SIMULATED_KINDS, simulatedEvent, type SimulatedKind } from '../../src/webhook/event-builders.js';
import { type Amount } from '../../src/workflows/account-rules.js';
import { type EnforcementStatus } from '../../src/workflows/definitions.js';
import {
  DAY,
  db,
  seedCustomer,
  testLadderClient,
  testPolicy,
  useRunningWorker,
  useTimeSkippingEnv,
  waitForStatus,
} from './support/harness.js';
import { adminAuth, buildTestApp, internalAuth, portalAuth } from './support/http.js';
import { deliver } from './support/stripe.js';

const env = useTimeSkippingEnv();
const taskQueue = useRunningWorker(env);
const policy = testPolicy({ version: 'matrix-1' });
let app: FastifyInstance;

beforeAll(async () => {
  app = buildTestApp({ client: env().client, taskQueue: taskQueue(), policy }).app;
  await app.ready();
});
afterAll(async () => {
  await app.close();
});

/** What a step means, in the terms every surface can be read back into. */
interface Facts {
  state: string;
  /** Unpaid invoices, sorted, with whether each drives the ladder (the database's surfaces). */
  unpaid: string[];
  /** The invoices that drive the ladder, sorted: every surface, the workflow included. */
  driving: string[];
  amountDue: string;
  ladderAmountDue: string;
  disputed: boolean;
  dispute: string | null;
  lastDispute: string | null;
  review: string | null;
  lastReview: string | null;
  restore: string | null;
  mode: string;
  policyVersion: string | null;
}

type Surface = Partial<Facts>;

const money = (amounts: Amount[]) =>
  amounts.map((a) => formatAmount(a.amount, a.currency)).join(' + ') || '-';
const unpaidOf = (invoices: { id: string; drivesLadder: boolean }[]) =>
  invoices.map((i) => `${i.id}:${i.drivesLadder ? 'drives' : 'shown'}`).sort();
const drivingOf = (invoices: { id: string; drivesLadder: boolean }[]) =>
  invoices
    .filter((i) => i.drivesLadder)
    .map((i) => i.id)
    .sort();
const reviewOf = (r: { approval: { actor: string } | null } | null) =>
  r ? `approved by ${r.approval?.actor ?? 'nobody'}` : null;
const restoreOf = (r: { reason: string; actor: string | null } | null) =>
  r ? `${r.reason}${r.actor ? ` by ${r.actor}` : ''}` : null;

interface View {
  state: string;
  mode: string;
  policyVersion: string | null;
  flags: { disputed: boolean };
  invoices: { id: string; drivesLadder: boolean }[];
  amountDue: Amount[];
  ladderAmountDue: Amount[];
  dispute: { disputeId: string | null } | null;
  lastDispute: { disputeId: string | null } | null;
  deletionReview: { approval: { actor: string } | null } | null;
  lastDeletionReview: { approval: { actor: string } | null } | null;
  lastRestore: { reason: string; actor: string | null } | null;
}

function viewFacts(view: View): Surface {
  return {
    state: view.state,
    unpaid: unpaidOf(view.invoices),
    driving: drivingOf(view.invoices),
    amountDue: money(view.amountDue),
    ladderAmountDue: money(view.ladderAmountDue),
    disputed: view.flags.disputed,
    dispute: view.dispute?.disputeId ?? null,
    lastDispute: view.lastDispute?.disputeId ?? null,
    review: reviewOf(view.deletionReview),
    lastReview: reviewOf(view.lastDeletionReview),
    restore: restoreOf(view.lastRestore),
    mode: view.mode,
    policyVersion: view.policyVersion,
  };
}

/** `billing status` as a person reads it: the text, parsed back. */
function cliTextFacts(text: string): Surface {
  const line = (label: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(`${label.padEnd(10)} `))
      .map((l) => l.slice(11));
  const invoiceLines = [
    ...text.matchAll(/^ {11}(in_\S+) .*? (open|uncollectible), (drives the ladder|below the minimum)/gm),
  ];
  const due = /^(.*) \(driving the ladder: (.*)\)$/.exec(line('due')[0] ?? '');
  const policyLine = /^(\S+) \((dry-run|enforce)\)$/.exec(line('policy')[0] ?? '');
  const dispute = line('dispute');
  const review = line('review');
  const restored = /^last restore \S+: (.*)$/.exec(line('restored')[0] ?? '');
  const approvedBy = (l: string | undefined) =>
    l ? `approved by ${/approved by (\S+)/.exec(l)?.[1] ?? 'nobody'}` : null;
  const restoreText = restored?.[1];
  return {
    state: /^(\S+)/.exec(line('state')[0] ?? '')?.[1],
    unpaid: invoiceLines.map((m) => `${m[1]}:${m[3] === 'drives the ladder' ? 'drives' : 'shown'}`).sort(),
    driving: invoiceLines
      .filter((m) => m[3] === 'drives the ladder')
      .map((m) => m[1]!)
      .sort(),
    amountDue: due?.[1],
    ladderAmountDue: due?.[2],
    disputed: /disputed yes/.test(line('flags')[0] ?? ''),
    dispute: /^open: (\S+)/.exec(dispute.find((l) => l.startsWith('open:')) ?? '')?.[1] ?? null,
    lastDispute:
      /^last dispute (\S+)/.exec(dispute.find((l) => l.startsWith('last dispute')) ?? '')?.[1] ?? null,
    review: approvedBy(review.find((l) => l.startsWith('deletion review'))),
    lastReview: approvedBy(review.find((l) => l.startsWith('last deletion review'))),
    restore: !restoreText
      ? null
      : restoreText === 'paid'
        ? 'paid'
        : restoreText === 'invoices voided'
          ? 'voided'
          : restoreText.replace(/^force restore by ([^:\s]+).*$/, 'force_restore by $1'),
    mode: policyLine?.[2],
    policyVersion: policyLine?.[1] === '-' ? null : policyLine?.[1],
  };
}

function workflowFacts(status: EnforcementStatus | null): Surface {
  // No ladder: the workflow has nothing to say beyond "none", which the state covers.
  if (!status) return { state: 'active', driving: [] };
  return {
    state: status.state,
    driving: drivingOf(status.openInvoices.map((i) => ({ id: i.invoiceId, ...i }))),
    ladderAmountDue: money(status.ladderAmountDue),
    disputed: status.dispute !== null,
    dispute: status.dispute?.disputeId ?? null,
    lastDispute: status.lastDispute?.disputeId ?? null,
    review: reviewOf(status.deletionReview),
    lastReview: reviewOf(status.lastDeletionReview),
    restore: restoreOf(status.restored),
    mode: status.mode,
    policyVersion: status.policyVersion,
  };
}

function sink() {
  let text = '';
  return { write: (chunk: string) => (text += chunk), text: () => text };
}

async function surfaces(accountId: string): Promise<Record<string, Surface>> {
  const ladder = testLadderClient(env().client, taskQueue(), { policy });
  const cli = async (json: boolean) => {
    const out = sink();
    const deps: CliDeps = { db: db(), ladder, policy, out, err: sink() };
    await runStatus(deps, accountId, { json });
    return out.text();
  };
  const cliJson = JSON.parse(await cli(true)) as { view: View; account: { openInvoices: View['invoices'] } };
  const admin = await app.inject({ url: `/admin/v1/accounts/${accountId}`, headers: adminAuth });
  expect(admin.statusCode).toBe(200);
  const adminBody = admin.json<{
    account: { disputed: boolean; policyVersion: string | null; openInvoices: View['invoices'] };
    view: View;
    workflow: EnforcementStatus | null;
  }>();
  const billing = await app.inject({ url: `/v1/accounts/${accountId}/billing`, headers: internalAuth });
  expect(billing.statusCode).toBe(200);
  const b = billing.json<
    Omit<View, 'flags' | 'invoices' | 'deletionReview' | 'lastDeletionReview'> & {
      disputed: boolean;
      openInvoices: View['invoices'];
      deletionReview: View['deletionReview'];
      lastDeletionReview: View['lastDeletionReview'];
    }
  >();
  const portal = await app.inject({ url: `/api/announcements?accountId=${accountId}`, headers: portalAuth });
  expect(portal.statusCode).toBe(200);
  const announcement = portal.json<{
    announcements: {
      state: string;
      invoices: { id: string; drivesLadder: boolean }[];
      amountDue: { formatted: string }[];
    }[];
  }>().announcements[0];
  const status = await ladder.status(accountId);
  return {
    'billing status (text)': cliTextFacts(await cli(false)),
    'billing status --json': { ...viewFacts(cliJson.view), unpaid: unpaidOf(cliJson.account.openInvoices) },
    'admin API': {
      ...viewFacts(adminBody.view),
      disputed: adminBody.account.disputed,
      policyVersion: adminBody.account.policyVersion,
      unpaid: unpaidOf(adminBody.account.openInvoices),
    },
    'admin API (workflow)': workflowFacts(adminBody.workflow),
    'billing API': viewFacts({
      ...b,
      flags: { disputed: b.disputed },
      invoices: b.openInvoices,
    }),
    // The Portal shows nothing for an account in good standing.
    announcements: announcement
      ? {
          state: announcement.state,
          unpaid: unpaidOf(announcement.invoices),
          driving: drivingOf(announcement.invoices),
          amountDue: announcement.amountDue.map((a) => a.formatted).join(' + ') || '-',
        }
      : { state: 'active' },
    'workflow status query': workflowFacts(status),
  };
}

const pick = (facts: Facts, keys: string[]) =>
  Object.fromEntries(keys.map((k) => [k, facts[k as keyof Facts]])) as Surface;

/** Every surface says what `expected` says, on every fact it shows. */
async function expectEverySurface(accountId: string, expected: Facts) {
  const deadline = Date.now() + 15_000;
  let seen: Record<string, Surface> = {};
  const agrees = () =>
    Object.values(seen).every(
      (facts) => JSON.stringify(facts) === JSON.stringify(pick(expected, Object.keys(facts))),
    );
  // Activities write the database while the ladder moves: read until it has settled.
  for (;;) {
    seen = await surfaces(accountId);
    if (agrees() || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  for (const [surface, facts] of Object.entries(seen)) {
    expect(facts, surface).toEqual(pick(expected, Object.keys(facts)));
  }
}

const base: Facts = {
  state: 'active',
  unpaid: [],
  driving: [],
  amountDue: '-',
  ladderAmountDue: '-',
  disputed: false,
  dispute: null,
  lastDispute: null,
  review: null,
  lastReview: null,
  restore: null,
  mode: 'enforce',
  policyVersion: null,
};

const newInvoiceId = () => `in_${randomUUID().replace(/-/g, '').slice(0, 14)}`;

async function send(
  kind: SimulatedKind,
  customer: string,
  options: { invoiceId?: string; amount?: number } = {},
) {
  const event = simulatedEvent(kind, { customer, ...options });
  const response = await deliver(app, event);
  expect(response.status, `${kind}: ${JSON.stringify(response.body)}`).toBe(200);
  return { event, body: response.body };
}

/** A dispute as the simulator sends it (with the charge event first where Stripe's shape needs it). */
async function dispute(customer: string): Promise<string> {
  const chargeFirst = (SIMULATED_KINDS as readonly string[]).includes('charge-succeeded');
  const chargeId = `ch_${randomUUID().replace(/-/g, '').slice(0, 14)}`;
  const kinds = (chargeFirst ? ['charge-succeeded', 'dispute'] : ['dispute']) as SimulatedKind[];
  let disputeId = '';
  for (const kind of kinds) {
    const event = simulatedEvent(kind, { customer, ...{ chargeId } });
    expect((await deliver(app, event)).status).toBe(200);
    disputeId = (event.data.object as { id: string }).id;
  }
  return disputeId;
}

const admin = (accountId: string, update: string, actor: string, reason: string) =>
  app.inject({
    method: 'POST',
    url: `/admin/v1/accounts/${accountId}/${update}`,
    headers: adminAuth,
    payload: { actor, reason },
  });

describe('every surface tells the same story of an account', () => {
  it('below the minimum: shown as unpaid, drives nothing, starts no ladder', async () => {
    const { accountId, customer } = await seedCustomer(env());
    const small = newInvoiceId();
    await send('payment-failed', customer, { invoiceId: small, amount: 50 });
    await expectEverySurface(accountId, {
      ...base,
      unpaid: [`${small}:shown`],
      amountDue: 'USD 0.50',
    });
  });

  it('uncollectible: still unpaid and still driving; with a second invoice below the minimum beside it', async () => {
    const { accountId, customer, handle } = await seedCustomer(env());
    const big = newInvoiceId();
    await send('payment-failed', customer, { invoiceId: big, amount: 4200 });
    await waitForStatus(handle, (s) => s.state === 'overdue', 'overdue');
    const overdue: Facts = {
      ...base,
      state: 'overdue',
      unpaid: [`${big}:drives`],
      driving: [big],
      amountDue: 'USD 42.00',
      ladderAmountDue: 'USD 42.00',
      policyVersion: 'matrix-1',
    };
    await expectEverySurface(accountId, overdue);

    await send('uncollectible', customer, { invoiceId: big, amount: 4200 });
    expect((await db().invoice.findUniqueOrThrow({ where: { id: big } })).status).toBe('uncollectible');
    await expectEverySurface(accountId, overdue);

    // Two invoices: the small one is owed and shown, but the ladder is the big one's.
    const small = newInvoiceId();
    await send('payment-failed', customer, { invoiceId: small, amount: 50 });
    await expectEverySurface(accountId, {
      ...overdue,
      unpaid: [`${big}:drives`, `${small}:shown`].sort(),
      amountDue: 'USD 42.50',
    });
  });

  it('void: restores, and says it was voided (not paid)', async () => {
    const { accountId, customer, handle } = await seedCustomer(env());
    const invoice = newInvoiceId();
    await send('payment-failed', customer, { invoiceId: invoice, amount: 2500 });
    await waitForStatus(handle, (s) => s.state === 'overdue', 'overdue');
    await send('voided', customer, { invoiceId: invoice, amount: 2500 });
    await waitForStatus(handle, (s) => s.restored !== null, 'restored');
    await expectEverySurface(accountId, { ...base, restore: 'voided', policyVersion: 'matrix-1' });
    const status = await testLadderClient(env().client, taskQueue(), { policy }).status(accountId);
    expect(status?.restored).toMatchObject({ by: 'void', reason: 'voided' });
  });

  it('dispute: a current flag while it lasts; after a restore by payment, the last dispute', async () => {
    const { accountId, customer, handle } = await seedCustomer(env());
    const invoice = newInvoiceId();
    await send('payment-failed', customer, { invoiceId: invoice, amount: 2500 });
    await waitForStatus(handle, (s) => s.state === 'overdue', 'overdue');
    const disputeId = await dispute(customer);
    await waitForStatus(handle, (s) => s.disputeFrozen !== null, 'frozen');
    const overdue: Facts = {
      ...base,
      state: 'overdue',
      unpaid: [`${invoice}:drives`],
      driving: [invoice],
      amountDue: 'USD 25.00',
      ladderAmountDue: 'USD 25.00',
      policyVersion: 'matrix-1',
    };
    await expectEverySurface(accountId, { ...overdue, disputed: true, dispute: disputeId });

    await send('paid', customer, { invoiceId: invoice, amount: 2500 });
    await waitForStatus(handle, (s) => s.restored !== null, 'restored');
    await expectEverySurface(accountId, {
      ...base,
      lastDispute: disputeId,
      restore: 'paid',
      policyVersion: 'matrix-1',
    });
  });

  it('admin force restore after a deletion review: the approval and the restore are history, with who did it', async () => {
    const { accountId, customer, handle } = await seedCustomer(env());
    const invoice = newInvoiceId();
    await send('payment-failed', customer, { invoiceId: invoice, amount: 2500 });
    await waitForStatus(handle, (s) => s.state === 'overdue', 'overdue');
    await env().sleep(45 * DAY);
    await waitForStatus(handle, (s) => s.deletionReviewDueAt !== null, 'deletion review due');
    expect((await admin(accountId, 'approve-deletion-review', 'frank', 'reviewed')).statusCode).toBe(200);
    const retained: Facts = {
      ...base,
      state: 'retained',
      unpaid: [`${invoice}:drives`],
      driving: [invoice],
      amountDue: 'USD 25.00',
      ladderAmountDue: 'USD 25.00',
      review: 'approved by frank',
      policyVersion: 'matrix-1',
    };
    await expectEverySurface(accountId, retained);

    expect((await admin(accountId, 'force-restore', 'frank', 'goodwill')).statusCode).toBe(200);
    await waitForStatus(handle, (s) => s.restored !== null, 'restored');
    // The invoice is still owed (Stripe has not settled it): shown and driving, but the ladder is over.
    await expectEverySurface(accountId, {
      ...retained,
      state: 'active',
      review: null,
      lastReview: 'approved by frank',
      restore: 'force_restore by frank',
    });
  });
});
