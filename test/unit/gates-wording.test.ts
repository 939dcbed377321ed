// What the gates say, besides allowed or not: the customer-facing sentence for each denied group
// of actions, the standing of an account per rung, and the errors for unknown input.
import { describe, expect, it } from 'vitest';
import {
  billingStanding,
  evaluateGate,
  GATE_ACTIONS,
  isGateAction,
  isGateState,
  type GateAction,
  type GateState,
} from '../../src/gates/index.js';

// Written out again here (independently of src/gates/evaluate.ts): what each action is called.
const WHAT: Record<GateAction, string> = {
  'server.start': 'Starting servers and the console',
  'server.restart': 'Starting servers and the console',
  'server.console': 'Starting servers and the console',
  'server.stop': 'Stopping servers',
  'server.provision': 'Creating new servers',
  'backup.create': 'Backup changes (create, restore, delete, prune)',
  'backup.restore': 'Backup changes (create, restore, delete, prune)',
  'backup.delete': 'Backup changes (create, restore, delete, prune)',
  'backup.prune': 'Backup changes (create, restore, delete, prune)',
  'backup.list': 'Listing and downloading backups',
  'backup.download': 'Listing and downloading backups',
  'file.read': 'Reading and downloading files',
  'file.list': 'Reading and downloading files',
  'file.download': 'Reading and downloading files',
  'file.write': 'Changing files (write, upload, delete)',
  'file.upload': 'Changing files (write, upload, delete)',
  'file.delete': 'Changing files (write, upload, delete)',
  'controller.repair': 'Automatic repairs',
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
      `Backup changes (create, restore, delete, prune) is paused because a payment on your account is overdue. You can still list and download your backups. ${PAY}`,
    );
  });

  it('suspended and retained: for billing, nothing broken, downloads work', () => {
    expect(evaluateGate('suspended', { dryRun: false }, 'file.upload').message).toBe(
      `Changing files (write, upload, delete) is not available: your servers are suspended for billing because a payment is overdue. Nothing is broken and no data has been deleted. ${DOWNLOADS} ${PAY}`,
    );
    expect(evaluateGate('retained', { dryRun: false }, 'controller.repair').message).toBe(
      `Automatic repairs is not available: your servers are suspended for billing and your data is retained, untouched. ${DOWNLOADS} ${PAY}`,
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
    expect(d.message.startsWith(`${WHAT[action]} is `)).toBe(true);
    expect(d.message.endsWith(PAY)).toBe(true);
  });

  it('the flag alone (state still active) gives the backup wording', () => {
    expect(evaluateGate('active', { dryRun: false, backupsBlocked: true }, 'backup.prune').message).toMatch(
      /^Backup changes \(create, restore, delete, prune\) is paused because/,
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
