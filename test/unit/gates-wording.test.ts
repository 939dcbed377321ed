// What the gates say, besides allowed or not: the customer-facing sentence for each denied group
// of actions, the standing of an account per rung, and the errors for unknown input. Then every
// customer-facing sentence (gate messages, the Portal's announcements, the emails) read for
// subject–verb agreement.
import Fastify from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { announcementRoutes } from '../../src/api/routes/announcements.js';
import { EMAIL_TEMPLATES, renderEmail, sampleEmailContext } from '../../src/notifications/email-templates.js';
import { accountRowsDb } from './support/account-db.js';
import { testPolicy } from '../support/policy.js';
import { agreementProblems } from './support/agreement.js';
import {
  billingStanding,
  evaluateGate,
  GATE_ACTIONS,
  GATE_STATES,
  isGateAction,
  isGateState,
  type GateAction,
  type GateState,
} from '../../src/gates/index.js';

// Written out again here (independently of src/gates/evaluate.ts): what each action is called,
// with the verb its subject takes.
const WHAT: Record<GateAction, string> = {
  'server.start': 'Starting servers and opening the console are',
  'server.restart': 'Starting servers and opening the console are',
  'server.console': 'Starting servers and opening the console are',
  'server.stop': 'Stopping servers is',
  'server.provision': 'Creating new servers is',
  'backup.create': 'Backup changes (create, restore, delete, prune) are',
  'backup.restore': 'Backup changes (create, restore, delete, prune) are',
  'backup.delete': 'Backup changes (create, restore, delete, prune) are',
  'backup.prune': 'Backup changes (create, restore, delete, prune) are',
  'backup.list': 'Listing and downloading backups are',
  'backup.download': 'Listing and downloading backups are',
  'file.read': 'Reading and downloading files are',
  'file.list': 'Reading and downloading files are',
  'file.download': 'Reading and downloading files are',
  'file.write': 'Changing files (write, upload, delete) is',
  'file.upload': 'Changing files (write, upload, delete) is',
  'file.delete': 'Changing files (write, upload, delete) is',
  'controller.repair': 'Automatic repairs are',
};
const PAY = 'Pay the open invoice to restore full access.';
const DOWNLOADS = 'You can still download your files and backups.';

describe('denied: the sentence names the action and what to do', () => {
  it('overdue: servers keep running', () => {
    expect(evaluateGate('overdue', { dryRun: false }, 'server.provision').message).toBe(
      `Creating new servers is not available while a payment on your account is overdue. Your existing servers keep running. ${PAY}`,
    );
  });

  it('final warning: backup changes paused, listing and downloads still work', () => {
    expect(evaluateGate('final_warning', { dryRun: false }, 'backup.restore').message).toBe(
      `Backup changes (create, restore, delete, prune) are paused because a payment on your account is overdue. You can still list and download your backups. ${PAY}`,
    );
  });

  it('suspended and retained: for billing, nothing broken, downloads work', () => {
    expect(evaluateGate('suspended', { dryRun: false }, 'file.upload').message).toBe(
      `Changing files (write, upload, delete) is not available: your servers are suspended for billing because a payment is overdue. Nothing is broken and no data has been deleted. ${DOWNLOADS} ${PAY}`,
    );
    expect(evaluateGate('retained', { dryRun: false }, 'controller.repair').message).toBe(
      `Automatic repairs are not available: your servers are suspended for billing and your data is retained, untouched. ${DOWNLOADS} ${PAY}`,
    );
  });

  const denied = (['overdue', 'final_warning', 'suspended', 'retained'] as const).flatMap((state) =>
    GATE_ACTIONS.map((action) => ({
      state,
      action,
      d: evaluateGate(state, { dryRun: false }, action),
    })).filter(({ d }) => !d.allowed),
  );
  it.each(denied)('$action in $state starts with what it is and ends with how to pay', ({ action, d }) => {
    expect(d.message.startsWith(`${WHAT[action]} `)).toBe(true);
    expect(d.message.endsWith(PAY)).toBe(true);
  });

  it('the flag alone (state still active) gives the backup wording', () => {
    expect(evaluateGate('active', { dryRun: false, backupsBlocked: true }, 'backup.prune').message).toMatch(
      /^Backup changes \(create, restore, delete, prune\) are paused because/,
    );
  });
});

describe('allowed: the sentence says where the account stands', () => {
  it.each([
    ['active', 'Allowed.'],
    [
      'overdue',
      'Allowed. A payment on your account is overdue: pay the open invoice to avoid interruptions.',
    ],
    [
      'final_warning',
      'Allowed. A payment on your account is overdue and backup changes are paused: pay the open invoice to avoid a suspension.',
    ],
    ['suspended', `Allowed. Your servers are suspended for billing; downloads keep working. ${PAY}`],
    [
      'retained',
      `Allowed. Your servers are suspended for billing and your data is retained; downloads keep working. ${PAY}`,
    ],
  ] as const)('%s', (state, message) => {
    expect(evaluateGate(state, { dryRun: false }, 'file.download').message).toBe(message);
  });
});

describe('billingStanding: the code of the rung and its sentence', () => {
  it.each([
    ['active', 'BILLING_OK', 'In good standing.'],
    [
      'overdue',
      'BILLING_OVERDUE',
      'A payment on your account is overdue: pay the open invoice to avoid interruptions.',
    ],
    [
      'final_warning',
      'BILLING_BACKUPS_BLOCKED',
      'A payment on your account is overdue and backup changes are paused: pay the open invoice to avoid a suspension.',
    ],
    [
      'suspended',
      'BILLING_SUSPENDED',
      `Your servers are suspended for billing; downloads keep working. ${PAY}`,
    ],
    [
      'retained',
      'BILLING_RETAINED',
      `Your servers are suspended for billing and your data is retained; downloads keep working. ${PAY}`,
    ],
  ] as const)('%s → %s', (state, code, message) => {
    expect(billingStanding(state)).toEqual({ code, message });
  });
});

describe('unknown input', () => {
  it('errors name what was not known', () => {
    expect(() => evaluateGate('gone' as GateState, { dryRun: false }, 'server.start')).toThrow(
      new TypeError('unknown billing state: gone'),
    );
    expect(() => evaluateGate('active', { dryRun: false }, 'server.delete' as GateAction)).toThrow(
      new TypeError('unknown gate action: server.delete'),
    );
  });

  it('the guards accept exactly the listed states and actions', () => {
    expect(isGateState('suspended')).toBe(true);
    expect(isGateState('Suspended')).toBe(false);
    expect(isGateState(3)).toBe(false);
    expect(isGateState(undefined)).toBe(false);
    expect(isGateAction('file.read')).toBe(true);
    expect(isGateAction('file.fly')).toBe(false);
    expect(isGateAction(null)).toBe(false);
  });
});

describe('the agreement check itself', () => {
  it.each([
    'Automatic repairs is not available: your servers are suspended.',
    'Backup changes (create, restore, delete, prune) is paused because a payment is overdue.',
    'Creating new servers are not available.',
    'Listing and downloading backups is allowed.',
    'Starting servers and opening the console is not available.',
    'Allowed. Your invoices has been paid.',
  ])('flags %j', (sentence) => {
    expect(agreementProblems(sentence)).toHaveLength(1);
  });

  it.each([
    'Automatic repairs are not available: your servers are suspended for billing and your data is retained, untouched.',
    'Changing files (write, upload, delete) is not available while a payment on your account is overdue.',
    'Nothing is broken and no data has been deleted.',
    'Thank you: your payment has been received and full access is restored.',
    'Servers that were running before the suspension are being started again.',
  ])('passes %j', (sentence) => {
    expect(agreementProblems(sentence)).toEqual([]);
  });
});

describe('every customer-facing sentence agrees with its subject', () => {
  // Built inside each test, not while collecting: a mutant that breaks the gates must fail a
  // test, not the collection of this file.
  const FLAGS = [
    { dryRun: false },
    { dryRun: false, backupsBlocked: true },
    { dryRun: true, backupsBlocked: true },
    { dryRun: false, enforcementExempt: true },
  ];
  it.each(GATE_STATES)('gate messages and standing in %s', (state) => {
    const texts = GATE_ACTIONS.flatMap((action) =>
      FLAGS.flatMap((flags) => {
        const d = evaluateGate(state, flags, action);
        return [d.message, ...(d.wouldBe ? [d.wouldBe.message] : [])];
      }),
    ).concat(billingStanding(state).message);
    for (const text of new Set(texts)) expect(agreementProblems(text), text).toEqual([]);
  });

  it.each(EMAIL_TEMPLATES)('email %s: subject and body', (template) => {
    const email = renderEmail(template, sampleEmailContext(template, new Date('2030-01-01T00:00:00Z')));
    expect(agreementProblems(email.subject)).toEqual([]);
    expect(agreementProblems(email.text)).toEqual([]);
  });

  describe('announcements', () => {
    const db = accountRowsDb((id) => ({
      state: id.replace(/^acct_/, ''),
      backupsBlocked: true,
      overdueSince: new Date('2030-01-01T00:00:00Z'),
      retainUntil: new Date('2030-03-01T00:00:00Z'),
      invoices: [{ amountDue: 2550, currency: 'usd', hostedInvoiceUrl: 'https://pay.test/in_1' }],
    }));
    const app = Fastify();
    // The routes' zod schemas need the compilers the service installs (src/api/app.ts).
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    // The token scopes are src/api/auth.ts's; this app has none.
    announcementRoutes(app, { db, policy: testPolicy(), portalUrl: 'https://portal.test' });
    beforeAll(() => app.ready());
    afterAll(() => app.close());

    it.each(GATE_STATES.filter((state) => state !== 'active'))('%s', async (state) => {
      const response = await app.inject({
        method: 'GET',
        url: '/api/announcements',
        query: { accountId: `acct_${state}` },
      });
      const [a] = response.json<{ announcements: Record<string, unknown>[] }>().announcements;
      const texts = [
        a!.title,
        a!.message,
        ...(a!.stillWorks as string[]),
        ...(a!.blocked as string[]),
        (a!.nextDate as { what: string }).what,
      ] as string[];
      expect(texts.length).toBeGreaterThan(4);
      for (const text of texts) expect(agreementProblems(text), text).toEqual([]);
    });
  });
});
