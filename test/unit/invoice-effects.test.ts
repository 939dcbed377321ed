// The invoice effects' rules with the Invoice table kept in memory: an older event never
// overrides a newer one, a settled invoice never starts a ladder again, the policy minimum, and
// what the ladder is told. The SQL itself is exercised by test/integration/webhook-ingest.test.ts.
import type Stripe from 'stripe';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { type Db } from '../../src/platform/database.js';
import { type LadderClient } from '../../src/ladder/client.js';
import { type OpenDispute } from '../../src/webhook/sql/billing-account.js';

interface StoredInvoice {
  accountId: string;
  facts: {
    id: string;
    status: string;
    amountRemaining: number;
    currency: string;
    hostedInvoiceUrl: string | null;
  };
  status: string;
  lastEventId: string;
  lastEventCreatedAt: Date;
}
const table = new Map<string, StoredInvoice>();

vi.mock('../../src/webhook/sql/invoice.js', () => ({
  readInvoice: (_tx: unknown, id: string) => {
    const row = table.get(id);
    return Promise.resolve(row ? { status: row.status, lastEventCreatedAt: row.lastEventCreatedAt } : null);
  },
  saveInvoice: (
    _tx: unknown,
    accountId: string,
    facts: StoredInvoice['facts'],
    status: string,
    lastEventId: string,
    lastEventCreatedAt: Date,
  ) => {
    table.set(facts.id, { accountId, facts, status, lastEventId, lastEventCreatedAt });
    return Promise.resolve();
  },
}));

const { applyPaymentFailed, applySettled, applyUncollectible, customerIdOf, invoiceFacts, SETTLED_STATUSES } =
  await import('../../src/webhook/invoice-effects.js');

// No dispute is open unless a test says so (the webhook reads it with the account's lock).
let tx: Db & { openDispute: OpenDispute | null };
const T = (minutes: number) => new Date(Date.UTC(2026, 0, 1, 0, minutes));
const facts = (overrides: Partial<StoredInvoice['facts']> = {}) => ({
  id: 'in_1',
  status: 'open',
  amountRemaining: 2500,
  currency: 'usd',
  hostedInvoiceUrl: 'https://pay.test/in_1',
  ...overrides,
});

let ladder: {
  paymentFailed: ReturnType<typeof vi.fn>;
  invoiceSettled: ReturnType<typeof vi.fn>;
  disputeOpened: ReturnType<typeof vi.fn>;
};
let deps: { ladder: LadderClient; minAmountDueCents: number; stripe?: Stripe };

beforeEach(() => {
  table.clear();
  tx = { openDispute: null } as unknown as typeof tx;
  ladder = {
    paymentFailed: vi.fn(() => Promise.resolve({ runId: 'run' })),
    invoiceSettled: vi.fn(() => Promise.resolve(true)),
    disputeOpened: vi.fn(() => Promise.resolve(true)),
  };
  deps = { ladder: ladder as unknown as LadderClient, minAmountDueCents: 100 };
});

const failed = (minutes: number, eventId = `evt_failed_${minutes}`, invoice = facts()) =>
  applyPaymentFailed(tx, deps, { accountId: 'acct_1', invoice, eventId, eventCreated: T(minutes) });
const settled = (minutes: number, how: 'paid' | 'voided' = 'paid', invoice = facts()) =>
  applySettled(tx, deps, {
    accountId: 'acct_1',
    invoice,
    how,
    eventId: `evt_${how}_${minutes}`,
    eventCreated: T(minutes),
  });
const uncollectible = (minutes: number) =>
  applyUncollectible(tx, {
    accountId: 'acct_1',
    invoice: facts({ status: 'uncollectible' }),
    eventId: `evt_uncollectible_${minutes}`,
    eventCreated: T(minutes),
  });

describe('applyPaymentFailed', () => {
  it('a first failure records the invoice open and tells the ladder', async () => {
    expect(await failed(10)).toEqual({ status: 'processed', outcome: 'ladder started or told' });
    expect(table.get('in_1')).toMatchObject({
      accountId: 'acct_1',
      status: 'open',
      lastEventId: 'evt_failed_10',
      lastEventCreatedAt: T(10),
    });
    expect(ladder.paymentFailed).toHaveBeenCalledExactlyOnceWith('acct_1', {
      invoiceId: 'in_1',
      eventId: 'evt_failed_10',
      at: T(10).toISOString(),
      amountDue: 2500,
      currency: 'usd',
    });
  });

  it('a dispute that came while no ladder ran freezes the ladder the failure starts; none: not a word of it', async () => {
    expect(await failed(10)).toMatchObject({ outcome: 'ladder started or told' });
    expect(ladder.disputeOpened).not.toHaveBeenCalled();
    tx.openDispute = { disputeId: 'dp_1', eventId: 'evt_dispute', at: T(5) };
    expect(await failed(20)).toEqual({
      status: 'processed',
      outcome: 'ladder started or told; frozen by the open dispute',
    });
    expect(ladder.disputeOpened).toHaveBeenCalledExactlyOnceWith('acct_1', {
      disputeId: 'dp_1',
      eventId: 'evt_dispute',
      at: T(5).toISOString(),
    });
    // After the ladder was told of the failure, never before it exists.
    expect(ladder.paymentFailed.mock.invocationCallOrder[1]).toBeLessThan(
      ladder.disputeOpened.mock.invocationCallOrder[0]!,
    );
  });

  it("a flagged account whose dispute event the log no longer has is frozen all the same, under the failure's event", async () => {
    tx.openDispute = { disputeId: null, eventId: null, at: null };
    await failed(30, 'evt_failed');
    expect(ladder.disputeOpened).toHaveBeenCalledExactlyOnceWith('acct_1', {
      disputeId: '(not on record)',
      eventId: 'evt_failed',
      at: T(30).toISOString(),
    });
  });

  it('no dispute is read or told for a failure that starts no ladder', async () => {
    tx.openDispute = { disputeId: 'dp_1', eventId: 'evt_dispute', at: T(5) };
    await failed(10, 'evt_small', facts({ amountRemaining: 50 }));
    expect(ladder.disputeOpened).not.toHaveBeenCalled();
  });

  it('a newer failure, then an older one: the older is stale and leaves the row and the ladder alone', async () => {
    await failed(60, 'evt_newer');
    expect(await failed(10, 'evt_older')).toEqual({
      status: 'stale',
      outcome: 'older than the last event applied to this invoice',
    });
    expect(table.get('in_1')).toMatchObject({ lastEventId: 'evt_newer', lastEventCreatedAt: T(60) });
    expect(ladder.paymentFailed).toHaveBeenCalledTimes(1);
  });

  it('an older failure, then a newer one (a Smart Retry): both applied, the row moves forward', async () => {
    await failed(10);
    expect((await failed(60)).status).toBe('processed');
    expect(table.get('in_1')).toMatchObject({ lastEventId: 'evt_failed_60', lastEventCreatedAt: T(60) });
    expect(ladder.paymentFailed).toHaveBeenCalledTimes(2);
  });

  it('a second failure in the same second as the last one is applied (only older ones are stale)', async () => {
    await failed(10, 'evt_a');
    expect((await failed(10, 'evt_b')).status).toBe('processed');
    expect(table.get('in_1')?.lastEventId).toBe('evt_b');
  });

  it.each(['paid', 'void'])('after the invoice is %s, even a newer failure starts no ladder', async (how) => {
    await settled(30, how === 'paid' ? 'paid' : 'voided');
    ladder.invoiceSettled.mockClear();
    expect(await failed(60)).toEqual({ status: 'stale', outcome: `invoice already ${how}: no ladder` });
    expect(table.get('in_1')).toMatchObject({ status: how, lastEventCreatedAt: T(30) });
    expect(ladder.paymentFailed).not.toHaveBeenCalled();
  });

  it('an uncollectible invoice stays uncollectible and still runs the ladder; other statuses are open', async () => {
    await failed(10, 'evt_u', facts({ status: 'uncollectible' }));
    expect(table.get('in_1')?.status).toBe('uncollectible');
    await failed(20, 'evt_d', facts({ status: 'draft' }));
    expect(table.get('in_1')?.status).toBe('open');
    expect(ladder.paymentFailed).toHaveBeenCalledTimes(2);
  });

  it('below the policy minimum: recorded, no ladder; at the minimum: a ladder', async () => {
    expect(await failed(10, 'evt_small', facts({ amountRemaining: 99 }))).toEqual({
      status: 'ignored',
      outcome: 'amount due 99 is below the policy minimum 100: no ladder',
    });
    expect(table.get('in_1')).toMatchObject({ status: 'open', lastEventId: 'evt_small' });
    expect(ladder.paymentFailed).not.toHaveBeenCalled();
    expect((await failed(20, 'evt_min', facts({ amountRemaining: 100 }))).status).toBe('processed');
    expect(ladder.paymentFailed).toHaveBeenCalledTimes(1);
  });

  describe('with a Stripe API key: the invoice as Stripe sees it now', () => {
    const stripeSaying = (invoice: Partial<Stripe.Invoice>) => {
      const retrieve = vi.fn(() => Promise.resolve({ id: 'in_1', currency: 'usd', ...invoice }));
      deps.stripe = { invoices: { retrieve } } as unknown as Stripe;
      return retrieve;
    };

    it.each(['paid', 'void'] as const)('Stripe says %s: recorded as such, no ladder', async (status) => {
      const retrieve = stripeSaying({ status, amount_remaining: 0 });
      expect(await failed(10)).toEqual({
        status: 'stale',
        outcome: `Stripe reports the invoice ${status}: no ladder`,
      });
      expect(retrieve).toHaveBeenCalledWith('in_1');
      expect(table.get('in_1')).toMatchObject({ status, lastEventCreatedAt: T(10) });
      expect(ladder.paymentFailed).not.toHaveBeenCalled();
    });

    it("Stripe says open: Stripe's amount is what the ladder is told", async () => {
      stripeSaying({ status: 'open', amount_remaining: 4200, hosted_invoice_url: null });
      expect((await failed(10)).status).toBe('processed');
      expect(ladder.paymentFailed).toHaveBeenCalledWith(
        'acct_1',
        expect.objectContaining({ amountDue: 4200 }),
      );
      expect(table.get('in_1')?.facts).toMatchObject({ amountRemaining: 4200, hostedInvoiceUrl: null });
    });

    it('a stale event is answered before Stripe is asked', async () => {
      await failed(60);
      const retrieve = stripeSaying({ status: 'open', amount_remaining: 2500 });
      expect((await failed(10)).status).toBe('stale');
      expect(retrieve).not.toHaveBeenCalled();
    });
  });
});

describe('applySettled', () => {
  it('paid: recorded paid with nothing remaining, the ladder told', async () => {
    expect(await settled(10)).toEqual({ status: 'processed', outcome: 'invoice paid: ladder told' });
    expect(table.get('in_1')).toMatchObject({
      status: 'paid',
      facts: { amountRemaining: 0 },
      lastEventId: 'evt_paid_10',
      lastEventCreatedAt: T(10),
    });
    expect(ladder.invoiceSettled).toHaveBeenCalledExactlyOnceWith('acct_1', {
      invoiceId: 'in_1',
      how: 'paid',
      eventId: 'evt_paid_10',
      at: T(10).toISOString(),
    });
  });

  it('voided: recorded void, the amount kept; no running ladder is said so', async () => {
    ladder.invoiceSettled.mockResolvedValue(false);
    expect(await settled(10, 'voided')).toEqual({
      status: 'processed',
      outcome: 'invoice void: no running ladder',
    });
    expect(table.get('in_1')).toMatchObject({ status: 'void', facts: { amountRemaining: 2500 } });
  });

  it('applies whatever its place in the order, and the event time only moves forward', async () => {
    await failed(60);
    expect((await settled(10)).status).toBe('processed');
    expect(table.get('in_1')).toMatchObject({ status: 'paid', lastEventCreatedAt: T(60) });
    await settled(90);
    expect(table.get('in_1')?.lastEventCreatedAt).toEqual(T(90));
  });
});

describe('applyUncollectible', () => {
  it('recorded over an open invoice of an older or the same time', async () => {
    await failed(10);
    expect(await uncollectible(10)).toEqual({
      status: 'processed',
      outcome: 'invoice marked uncollectible (recorded; the ladder goes on)',
    });
    expect(table.get('in_1')).toMatchObject({ status: 'uncollectible', lastEventId: 'evt_uncollectible_10' });
    expect(ladder.invoiceSettled).not.toHaveBeenCalled();
  });

  it('recorded for an invoice not seen before', async () => {
    expect((await uncollectible(10)).status).toBe('processed');
    expect(table.get('in_1')?.status).toBe('uncollectible');
  });

  it('not applied over a newer event', async () => {
    await failed(60);
    expect(await uncollectible(10)).toEqual({
      status: 'stale',
      outcome: 'not applied over the newer status open',
    });
    expect(table.get('in_1')).toMatchObject({ status: 'open', lastEventCreatedAt: T(60) });
  });

  it('not applied over a settled invoice, even when newer', async () => {
    await settled(10);
    expect(await uncollectible(60)).toEqual({
      status: 'stale',
      outcome: 'not applied over the newer status paid',
    });
    expect(table.get('in_1')?.status).toBe('paid');
  });
});

describe('invoice facts', () => {
  it('reads what the effects need, with Stripe gaps filled', () => {
    const invoice = {
      id: 'in_9',
      status: null,
      amount_remaining: 700,
      currency: 'eur',
      hosted_invoice_url: null,
    } as unknown as Stripe.Invoice;
    expect(invoiceFacts(invoice)).toEqual({
      id: 'in_9',
      status: 'open',
      amountRemaining: 700,
      currency: 'eur',
      hostedInvoiceUrl: null,
    });
    expect(
      invoiceFacts({ ...invoice, status: 'paid', hosted_invoice_url: 'https://pay.test/in_9' }),
    ).toMatchObject({ status: 'paid', hostedInvoiceUrl: 'https://pay.test/in_9' });
  });

  it('customerIdOf: an id, an expanded customer, or nothing', () => {
    expect(customerIdOf('cus_1')).toBe('cus_1');
    expect(customerIdOf({ id: 'cus_2' })).toBe('cus_2');
    expect(customerIdOf(null)).toBeNull();
    expect(customerIdOf(undefined)).toBeNull();
    expect(customerIdOf('')).toBeNull();
  });

  it('paid and void are the settled statuses', () => {
    expect([...SETTLED_STATUSES]).toEqual(['paid', 'void']);
  });
});
