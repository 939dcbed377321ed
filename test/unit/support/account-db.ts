// A stand-in for the database the account read model (src/accounts/read-model.ts) reads: the
// account row with its unpaid invoices, the event log's last dispute and the deletion-review
// audit rows. Fields a test leaves out take the values of a fresh, untouched account.
import { type AccountRows } from '../../../src/accounts/read-model.js';
import { type PrismaClient } from '../../../src/platform/database.js';

export interface FakeInvoice {
  id?: string;
  status?: string;
  amountDue: number;
  currency: string;
  hostedInvoiceUrl: string | null;
}

/** A fresh, untouched account's row as the read model selects it. */
export function freshAccountRow(id: string): AccountRows['account'] {
  return {
    id,
    state: 'active',
    overdueSince: null,
    finalWarningAt: null,
    suspendedAt: null,
    retainedAt: null,
    retainUntil: null,
    deletionReviewDueAt: null,
    restoredAt: null,
    restoreReason: null,
    restoredBy: null,
    restoreNote: null,
    backupsBlocked: false,
    enforcementExempt: false,
    disputed: false,
    subscriptionStatus: null,
    policyVersion: null,
    policyDryRun: null,
    enforcedState: null,
    workflowId: null,
  };
}

export function accountRowsDb(
  rowFor: (id: string) => (Record<string, unknown> & { invoices?: FakeInvoice[] }) | null | undefined,
): PrismaClient {
  return {
    billingAccount: {
      findUnique: ({ where }: { where: { id: string } }) => {
        const row = rowFor(where.id);
        if (!row) return Promise.resolve(null);
        const { invoices = [], ...fields } = row;
        return Promise.resolve({
          ...freshAccountRow(where.id),
          ...fields,
          invoices: invoices.map((i, n) => ({ id: `in_${n + 1}`, status: 'open', ...i })),
        });
      },
    },
    stripeEventLog: { findFirst: () => Promise.resolve(null) },
    billingEnforcementEvent: { findMany: () => Promise.resolve([]) },
  } as unknown as PrismaClient;
}
