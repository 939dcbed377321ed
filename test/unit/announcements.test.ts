// The Portal's billing announcement, built from an account row (a stand-in for the database):
// the title and severity a customer sees per rung, and nothing shown for exempt accounts.
import Fastify from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountRowsDb } from './support/account-db.js';
import { announcementRoutes } from '../../src/api/routes/announcements.js';
import { testPolicy } from '../support/policy.js';

const policy = testPolicy({ version: 'unit-1' });

type State = 'active' | 'overdue' | 'final_warning' | 'suspended' | 'retained';
const accounts = new Map<string, { state: State; enforcementExempt: boolean }>();
const overdueSince = new Date('2026-01-01T00:00:00Z');

const db = accountRowsDb((id) => {
  const account = accounts.get(id);
  return (
    account && {
      backupsBlocked: account.state !== 'active' && account.state !== 'overdue',
      overdueSince,
      ...account,
      invoices: [{ amountDue: 2550, currency: 'usd', hostedInvoiceUrl: 'https://pay.test/in_1' }],
    }
  );
});

const app = Fastify();
// The routes' zod schemas validate and serialise, as in the service (src/api/app.ts).
app.setValidatorCompiler(validatorCompiler);
app.setSerializerCompiler(serializerCompiler);
// The token scopes are src/api/auth.ts's (test/unit/auth.test.ts); this app has none.
announcementRoutes(app, { db, policy, portalUrl: 'https://portal.test' });
beforeAll(() => app.ready());
afterAll(() => app.close());

interface Body {
  accountId: string;
  announcements: Record<string, unknown>[];
  dryRun: boolean;
  wouldBe?: Record<string, unknown>[];
}

async function announcementsFor(state: State, enforcementExempt = false): Promise<Body> {
  const accountId = `acct_${state}_${enforcementExempt ? 'exempt' : 'enforced'}`;
  accounts.set(accountId, { state, enforcementExempt });
  const response = await app.inject({
    method: 'GET',
    url: '/api/announcements',
    query: { accountId },
  });
  expect(response.statusCode).toBe(200);
  return response.json<Body>();
}

const EXPECTED = {
  overdue: { severity: 'warning', code: 'BILLING_OVERDUE', title: 'Payment overdue' },
  final_warning: {
    severity: 'critical',
    code: 'BILLING_BACKUPS_BLOCKED',
    title: 'Final notice: backups paused',
  },
  suspended: {
    severity: 'critical',
    code: 'BILLING_SUSPENDED',
    title: 'Servers suspended for billing',
  },
  retained: {
    severity: 'critical',
    code: 'BILLING_RETAINED',
    title: 'Servers suspended for billing — data retained',
  },
} as const;

describe('GET /api/announcements: what the Portal shows', () => {
  it.each(Object.entries(EXPECTED))('%s: title, severity and code', async (state, expected) => {
    const body = await announcementsFor(state as State);
    expect(body.dryRun).toBe(false);
    expect(body.announcements).toHaveLength(1);
    const [a] = body.announcements;
    expect(a).toMatchObject({
      ...expected,
      state,
      kind: 'billing',
      id: `billing:${body.accountId}:${state}`,
    });
  });

  it('a suspended account reads as suspended for billing, never as an outage', async () => {
    const [a] = (await announcementsFor('suspended')).announcements;
    expect(a!.title).toBe('Servers suspended for billing');
    expect(a!.severity).toBe('critical');
    for (const text of [a!.title, a!.message] as string[]) {
      expect(text).toMatch(/suspended for billing/);
      expect(text).not.toMatch(/outage|unavailable|down|broken(?! and)|error/i);
    }
    expect(a!.message).toMatch(/Nothing is broken/);
  });

  it('the next date comes from the rung times when no ladder can be asked', async () => {
    const [a] = (await announcementsFor('suspended')).announcements;
    expect(a!.nextDate).toMatchObject({
      at: new Date(overdueSince.getTime() + policy.retainAfterMs).toISOString(),
    });
  });

  it('absent for an account in good standing', async () => {
    expect(await announcementsFor('active')).toEqual({
      accountId: 'acct_active_enforced',
      announcements: [],
      dryRun: false,
    });
  });

  describe('exempt accounts: nothing shown to the customer, wouldBe says what would have been', () => {
    it.each(Object.entries(EXPECTED))('%s', async (state, expected) => {
      const body = await announcementsFor(state as State, true);
      expect(body.announcements).toEqual([]);
      expect(body.dryRun).toBe(true);
      expect(body.wouldBe).toHaveLength(1);
      expect(body.wouldBe![0]).toMatchObject({ ...expected, state });
    });

    it('active and exempt: nothing, and dryRun says the account is relaxed', async () => {
      expect(await announcementsFor('active', true)).toEqual({
        accountId: 'acct_active_exempt',
        announcements: [],
        dryRun: true,
      });
    });
  });
});
