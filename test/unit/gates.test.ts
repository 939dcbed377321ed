// The gate matrix (docs/design.md, "Gates"), written out again here as data (independently of the table in
// src/gates/evaluate.ts), and checked for every action × state × mode.
import { describe, expect, it } from 'vitest';
import {
  evaluateGate,
  gateStanding,
  GATE_ACTIONS,
  GATE_CODES,
  GATE_STATES,
  type GateAction,
  type GateCode,
  type GateState,
} from '../../src/gates/index.js';
import { BILLING_STATES } from '../../src/workflows/definitions.js';

// Columns: active, overdue, final_warning, suspended, retained. "ok" = allowed, otherwise the code.
const O = 'BILLING_OVERDUE';
const B = 'BILLING_BACKUPS_BLOCKED';
const S = 'BILLING_SUSPENDED';
const R = 'BILLING_RETAINED';
type Cell = 'ok' | Exclude<GateCode, 'BILLING_OK'>;
const EXPECTED: Record<GateAction, [Cell, Cell, Cell, Cell, Cell]> = {
  'server.start': ['ok', 'ok', 'ok', S, R],
  'server.restart': ['ok', 'ok', 'ok', S, R],
  'server.console': ['ok', 'ok', 'ok', S, R],
  'server.stop': ['ok', 'ok', 'ok', 'ok', 'ok'],
  'server.provision': ['ok', O, O, S, R],
  'backup.create': ['ok', 'ok', B, S, R],
  'backup.restore': ['ok', 'ok', B, S, R],
  'backup.delete': ['ok', 'ok', B, S, R],
  'backup.prune': ['ok', 'ok', B, S, R],
  'backup.list': ['ok', 'ok', 'ok', 'ok', 'ok'],
  'backup.download': ['ok', 'ok', 'ok', 'ok', 'ok'],
  'file.read': ['ok', 'ok', 'ok', 'ok', 'ok'],
  'file.list': ['ok', 'ok', 'ok', 'ok', 'ok'],
  'file.download': ['ok', 'ok', 'ok', 'ok', 'ok'],
  'file.write': ['ok', 'ok', 'ok', S, R],
  'file.upload': ['ok', 'ok', 'ok', S, R],
  'file.delete': ['ok', 'ok', 'ok', S, R],
  'controller.repair': ['ok', 'ok', 'ok', S, R],
};
const COLUMNS: GateState[] = ['active', 'overdue', 'final_warning', 'suspended', 'retained'];

const cases = Object.entries(EXPECTED).flatMap(([action, cells]) =>
  COLUMNS.map((state, i) => ({ action: action as GateAction, state, cell: cells[i]! })),
);

describe('evaluateGate: the gate matrix', () => {
  it('covers exactly the exported actions, states and codes', () => {
    expect(Object.keys(EXPECTED).sort()).toEqual([...GATE_ACTIONS].sort());
    expect([...GATE_STATES]).toEqual(COLUMNS);
    expect([...GATE_STATES]).toEqual([...BILLING_STATES]);
    expect([...GATE_CODES].sort()).toEqual(['BILLING_OK', B, O, R, S].sort());
    expect(cases).toHaveLength(GATE_ACTIONS.length * GATE_STATES.length);
  });

  describe('enforcing', () => {
    it.each(cases)('$action in $state → $cell', ({ action, state, cell }) => {
      const d = evaluateGate(state, { dryRun: false }, action);
      expect(d.allowed).toBe(cell === 'ok');
      expect(d.code).toBe(cell === 'ok' ? 'BILLING_OK' : cell);
      expect(d).toMatchObject({ action, state, dryRun: false });
      expect(d.wouldBe).toBeUndefined();
      expect(d.message.length).toBeGreaterThan(0);
    });
  });

  describe('dry-run: always allowed, with the enforcing answer in wouldBe', () => {
    it.each(cases)('$action in $state → allowed, would be $cell', ({ action, state, cell }) => {
      const d = evaluateGate(state, { dryRun: true }, action);
      expect(d).toMatchObject({ allowed: true, code: 'BILLING_OK', dryRun: true, relaxedBy: 'dry-run' });
      expect(d.wouldBe).toMatchObject({
        allowed: cell === 'ok',
        code: cell === 'ok' ? 'BILLING_OK' : cell,
      });
      // The customer was told nothing in dry-run, so nothing is announced to them here either.
      expect(d.message).toBe('Allowed.');
    });
  });

  describe('exempt accounts act as dry-run for that account', () => {
    it.each(cases)('$action in $state → allowed, would be $cell', ({ action, state, cell }) => {
      const d = evaluateGate(state, { dryRun: false, enforcementExempt: true }, action);
      expect(d).toMatchObject({ allowed: true, code: 'BILLING_OK', dryRun: true, relaxedBy: 'exempt' });
      expect(d.wouldBe?.code).toBe(cell === 'ok' ? 'BILLING_OK' : cell);
    });
  });

  describe('the backupsBlocked flag', () => {
    const changes: GateAction[] = ['backup.create', 'backup.restore', 'backup.delete', 'backup.prune'];
    it.each(changes)('denies %s even while the state still says active', (action) => {
      expect(evaluateGate('active', { dryRun: false, backupsBlocked: true }, action)).toMatchObject({
        allowed: false,
        code: B,
      });
    });
    it('never denies anything else, and never overrides a stronger code', () => {
      for (const action of GATE_ACTIONS.filter((a) => !changes.includes(a))) {
        expect(evaluateGate('active', { dryRun: false, backupsBlocked: true }, action).allowed).toBe(true);
      }
      expect(evaluateGate('suspended', { dryRun: false, backupsBlocked: true }, 'backup.create').code).toBe(
        S,
      );
    });
  });

  it('messages are customer-facing: suspension reads as billing, downloads still work', () => {
    const d = evaluateGate('suspended', { dryRun: false }, 'server.start');
    expect(d.message).toMatch(/suspended for billing/);
    expect(d.message).toMatch(/download your files and backups/);
    expect(d.message).not.toMatch(/error|broken down/i);
    expect(evaluateGate('final_warning', { dryRun: false }, 'backup.create').message).toMatch(
      /list and download your backups/,
    );
  });

  it('rejects unknown states and actions instead of guessing', () => {
    expect(() => evaluateGate('gone' as GateState, { dryRun: false }, 'server.start')).toThrow(TypeError);
    expect(() => evaluateGate('active', { dryRun: false }, 'server.delete' as GateAction)).toThrow(TypeError);
  });

  describe('gateStanding: what a gate decides on, from the account row', () => {
    const row = {
      state: 'suspended' as const,
      enforcedState: null,
      policyDryRun: null,
      backupsBlocked: false,
      enforcementExempt: false,
    };
    const enforcing = { dryRun: false };
    const dryRunService = { dryRun: true };

    it("the ladder's own mode, whatever the service's", () => {
      expect(gateStanding({ ...row, policyDryRun: true }, enforcing).flags.dryRun).toBe(true);
      expect(gateStanding({ ...row, policyDryRun: false }, dryRunService).flags.dryRun).toBe(false);
    });

    it("the service's mode for a ladder that recorded none, and for an active account", () => {
      expect(gateStanding(row, dryRunService).flags.dryRun).toBe(true);
      expect(gateStanding(row, enforcing).flags.dryRun).toBe(false);
      const active = { ...row, state: 'active' as const };
      expect(gateStanding({ ...active, policyDryRun: false }, dryRunService).flags.dryRun).toBe(true);
      expect(gateStanding({ ...active, policyDryRun: true }, enforcing).flags.dryRun).toBe(false);
    });

    it('the rung in force for real decides when set, never relaxed by a mode', () => {
      for (const policyDryRun of [true, false, null]) {
        for (const service of [enforcing, dryRunService]) {
          expect(gateStanding({ ...row, policyDryRun, enforcedState: 'final_warning' }, service)).toEqual({
            state: 'final_warning',
            flags: { dryRun: false, backupsBlocked: false, enforcementExempt: false },
          });
        }
      }
      expect(gateStanding(row, enforcing).state).toBe('suspended');
    });

    it('carries the backup block and the exemption as they are', () => {
      expect(
        gateStanding({ ...row, backupsBlocked: true, enforcementExempt: true }, enforcing).flags,
      ).toEqual({
        dryRun: false,
        backupsBlocked: true,
        enforcementExempt: true,
      });
    });
  });
});
