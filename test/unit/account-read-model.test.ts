// The rules behind the account's read model and the workflow's status: which invoices drive the
// ladder, what is owed, why a restore happened, and what a restore turns into history.
import { describe, expect, it } from 'vitest';
import { accountView, type AccountRows } from '../../src/accounts/read-model.js';
import { freshAccountRow } from './support/account-db.js';
import {
  amountsDue,
  currentOrLast,
  describeRestore,
  drivesLadder,
  restoreReason,
} from '../../src/workflows/account-rules.js';

const service = { minAmountDueCents: 100, dryRun: true };

function rows(
  overrides: Partial<AccountRows['account']> = {},
  extra: Partial<AccountRows> = {},
): AccountRows {
  return {
    account: {
      ...freshAccountRow('acct_1'),
      state: 'overdue',
      overdueSince: new Date('2030-01-01T00:00:00Z'),
      policyVersion: 'p-1',
      policyDryRun: false,
      workflowId: 'billing-enforcement:acct_1',
      ...overrides,
    },
    invoices: [],
    lastDisputeEvent: null,
    reviewEvents: [],
    ...extra,
  };
}

describe('account rules', () => {
  it('an unpaid invoice drives the ladder from the minimum amount on; a settled one never', () => {
    expect(drivesLadder({ status: 'open', amountDue: 100 }, 100)).toBe(true);
    expect(drivesLadder({ status: 'uncollectible', amountDue: 4200 }, 100)).toBe(true);
    expect(drivesLadder({ status: 'open', amountDue: 99 }, 100)).toBe(false);
    expect(drivesLadder({ status: 'paid', amountDue: 4200 }, 100)).toBe(false);
    expect(drivesLadder({ status: 'void', amountDue: 4200 }, 100)).toBe(false);
  });

  it('amounts: one sum per lower-case currency, in order; invoices without an amount are skipped', () => {
    expect(
      amountsDue([
        { amountDue: 50, currency: 'USD' },
        { amountDue: 4200, currency: 'usd' },
        { amountDue: 700, currency: 'eur' },
        { currency: 'usd' },
        { amountDue: 5 },
      ]),
    ).toEqual([
      { currency: 'eur', amount: 700 },
      { currency: 'usd', amount: 4250 },
    ]);
    expect(amountsDue([])).toEqual([]);
  });

  it('why a restore happened', () => {
    expect(restoreReason(true, ['paid'])).toBe('force_restore');
    expect(restoreReason(false, ['voided', 'paid'])).toBe('paid');
    expect(restoreReason(false, ['voided', 'voided'])).toBe('voided');
    expect(restoreReason(false, [])).toBe('settled');
    expect(describeRestore({ reason: 'force_restore', actor: 'frank', note: 'goodwill' })).toBe(
      'force restore by frank: goodwill',
    );
    expect(describeRestore({ reason: 'voided', actor: null, note: null })).toBe('invoices voided');
    expect(describeRestore({ reason: 'paid', actor: null, note: null })).toBe('paid');
    expect(describeRestore({ reason: 'settled', actor: null, note: null })).toBe('invoices settled');
    expect(describeRestore({ reason: 'force_restore', actor: null, note: null })).toBe(
      'force restore by an admin',
    );
  });

  it('what is over is history', () => {
    expect(currentOrLast('x', false)).toEqual({ current: 'x', last: null });
    expect(currentOrLast('x', true)).toEqual({ current: null, last: 'x' });
  });
});

describe('accountView', () => {
  it('shows every unpaid invoice, sums them, and sums apart the ones that drive the ladder', () => {
    const view = accountView(
      rows(
        {},
        {
          invoices: [
            {
              id: 'in_big',
              status: 'uncollectible',
              amountDue: 4200,
              currency: 'usd',
              hostedInvoiceUrl: null,
            },
            { id: 'in_small', status: 'open', amountDue: 50, currency: 'usd', hostedInvoiceUrl: null },
          ],
        },
      ),
      service,
    );
    expect(view.invoices.map((i) => [i.id, i.drivesLadder])).toEqual([
      ['in_big', true],
      ['in_small', false],
    ]);
    expect(view.amountDue).toEqual([{ currency: 'usd', amount: 4250 }]);
    expect(view.ladderAmountDue).toEqual([{ currency: 'usd', amount: 4200 }]);
  });

  it("the ladder's mode while in enforcement, the service's outside one", () => {
    expect(accountView(rows({ policyDryRun: false }), service).mode).toBe('enforce');
    expect(accountView(rows({ state: 'active', policyDryRun: false }), service).mode).toBe('dry-run');
    expect(accountView(rows({ policyDryRun: null }), service).mode).toBe('dry-run');
  });

  it('a dispute is current while flagged, the last dispute once a restore cleared the flag', () => {
    const event = { objectId: 'dp_1', createdAt: new Date('2030-01-02T00:00:00Z') };
    const open = accountView(rows({ disputed: true }, { lastDisputeEvent: event }), service);
    expect(open.dispute).toEqual({ disputeId: 'dp_1', at: '2030-01-02T00:00:00.000Z' });
    expect(open.lastDispute).toBeNull();
    const over = accountView(
      rows({ state: 'active', disputed: false }, { lastDisputeEvent: event }),
      service,
    );
    expect(over.dispute).toBeNull();
    expect(over.lastDispute).toEqual({ disputeId: 'dp_1', at: '2030-01-02T00:00:00.000Z' });
    // Flagged without its event on record: still a current dispute, its id unknown.
    expect(accountView(rows({ disputed: true }), service).dispute).toEqual({ disputeId: null, at: null });
  });

  it('the deletion review and the approval given since it came due; after a restore, the last one', () => {
    const due = new Date('2030-02-01T00:00:00Z');
    const reviewEvents = [
      {
        kind: 'admin_approve_deletion_review',
        actor: 'frank',
        reason: 'reviewed',
        occurredAt: new Date('2030-02-02T00:00:00Z'),
        detail: {},
      },
      { kind: 'deletion_review_due', actor: 'workflow', reason: null, occurredAt: due, detail: {} },
      // An approval of an earlier review does not approve this one.
      {
        kind: 'admin_approve_deletion_review',
        actor: 'old',
        reason: 'earlier',
        occurredAt: new Date('2029-01-01T00:00:00Z'),
        detail: {},
      },
    ];
    const current = accountView(
      rows({ state: 'retained', deletionReviewDueAt: due }, { reviewEvents }),
      service,
    );
    expect(current.deletionReview).toEqual({
      dueAt: '2030-02-01T00:00:00.000Z',
      approval: { actor: 'frank', reason: 'reviewed', at: '2030-02-02T00:00:00.000Z' },
    });
    expect(current.lastDeletionReview).toBeNull();
    const restored = accountView(
      rows(
        {
          state: 'active',
          restoredAt: new Date('2030-02-03T00:00:00Z'),
          restoreReason: 'force_restore',
          restoredBy: 'frank',
          restoreNote: 'goodwill',
        },
        { reviewEvents },
      ),
      service,
    );
    expect(restored.deletionReview).toBeNull();
    expect(restored.lastDeletionReview?.approval?.actor).toBe('frank');
    expect(restored.lastRestore).toEqual({
      at: '2030-02-03T00:00:00.000Z',
      reason: 'force_restore',
      actor: 'frank',
      note: 'goodwill',
    });
    const unapproved = accountView(
      rows({ state: 'retained', deletionReviewDueAt: due }, { reviewEvents: reviewEvents.slice(1) }),
      service,
    );
    expect(unapproved.deletionReview?.approval).toBeNull();
  });

  it('a restore recorded without its reason reads "settled"', () => {
    const view = accountView(
      rows({ state: 'active', restoredAt: new Date('2030-01-05T00:00:00Z') }),
      service,
    );
    expect(view.lastRestore?.reason).toBe('settled');
  });
});
