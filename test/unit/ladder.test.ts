// The ladder table and the timing read from it, without a Temporal server.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/platform/config.js';
import { EMAIL_TEMPLATES } from '../../src/notifications/email-templates.js';
import {
  adoption,
  allowedFrom,
  changesState,
  isCurrent,
  owedRungs,
  isNotice,
  LADDER,
  nextAction,
  nextDateFromAccount,
  nextRung,
  restoreLifts,
  rungSpec,
  stateColumns,
  type LadderPosition,
  type RungName,
} from '../../src/workflows/ladder.js';
import { testPolicy } from '../support/policy.js';
import { problemsOf, validEnv } from './support/config.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2030-03-01T00:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

const policy = testPolicy({ version: 'unit', suspensionBreaker: { threshold: 25, windowMs: HOUR } });
const withReminder = { ...policy, reminderAfterMs: 24 * HOUR };

const at = (state: LadderPosition['state'], extra: Partial<LadderPosition> = {}): LadderPosition => ({
  state,
  overdueSince: iso(T0),
  shiftMs: 0,
  retainUntil: null,
  deletionReviewDueAt: null,
  ...extra,
});

describe('the ladder table', () => {
  it('lists the rungs in the order they land', () => {
    expect(LADDER.map((r) => r.rung)).toEqual([
      'overdue',
      'reminder',
      'final_warning',
      'suspended',
      'retained',
      'deletion_review',
    ]);
  });

  it('finds each rung by name and refuses a name it does not know', () => {
    for (const row of LADDER) expect(rungSpec(row.rung)).toBe(row);
    expect(() => rungSpec('demolished' as RungName)).toThrow('no rung demolished');
  });

  it('moves the account on at every rung but the reminder and the deletion review', () => {
    const moves = Object.fromEntries(
      LADDER.map((r) => [r.rung, changesState(r) ? `${r.from} -> ${r.to}` : r.to]),
    );
    expect(moves).toEqual({
      overdue: 'active -> overdue',
      reminder: 'overdue',
      final_warning: 'overdue -> final_warning',
      suspended: 'final_warning -> suspended',
      retained: 'suspended -> retained',
      deletion_review: 'retained',
    });
  });

  it('only the reminder is a notice: the deletion review enforces, the overdue rung changes state', () => {
    expect(LADDER.filter(isNotice).map((r) => r.rung)).toEqual(['reminder']);
    expect(isNotice(rungSpec('overdue'))).toBe(false);
    expect(isNotice(rungSpec('deletion_review'))).toBe(false);
  });

  it('enforces one new thing per rung from the final warning on, nothing before', () => {
    expect(LADDER.map((r) => [r.rung, r.enforces])).toEqual([
      ['overdue', null],
      ['reminder', null],
      ['final_warning', 'block_backups'],
      ['suspended', 'stop_servers'],
      ['retained', 'retain'],
      ['deletion_review', 'flag_deletion_review'],
    ]);
  });

  it('lands the overdue rung at the failure itself', () => {
    expect(rungSpec('overdue').after(policy)).toBe(0);
    expect(rungSpec('deletion_review').after(policy)).toBe('end_of_retention');
  });

  it('sends the customer one email template per rung, none for the deletion review', () => {
    const emails = LADDER.map((r) => [r.rung, r.email]);
    expect(emails).toEqual([
      ['overdue', 'payment_failed'],
      ['reminder', 'payment_reminder'],
      ['final_warning', 'final_warning'],
      ['suspended', 'suspended'],
      ['retained', 'retained'],
      ['deletion_review', null],
    ]);
    for (const [, email] of emails) if (email !== null) expect(EMAIL_TEMPLATES).toContain(email);
  });

  it('tells billing of every state change, ops of the deletion review, and nobody of the reminder', () => {
    expect(LADDER.map((r) => [r.rung, r.discord])).toEqual([
      ['overdue', { channel: 'billing', title: 'Payment failed: account overdue' }],
      ['reminder', null],
      ['final_warning', { channel: 'billing', title: 'Final warning: backups blocked' }],
      ['suspended', { channel: 'billing', title: 'Suspended: servers stopped (no data deleted)' }],
      ['retained', { channel: 'billing', title: 'Retained: data kept, servers stay stopped' }],
      ['deletion_review', { channel: 'ops', title: 'Eligible for deletion review' }],
    ]);
  });

  it('records each rung under the history kind the status query and the timeline show', () => {
    expect(LADDER.map((r) => r.historyKind)).toEqual([
      'overdue',
      'reminder',
      'final_warning',
      'suspended',
      'retained',
      'deletion_review_due',
    ]);
  });

  it('allows each transition from the rung before it, a retry from itself, and a restore from anywhere', () => {
    expect(allowedFrom('active')).toBe('any');
    expect(allowedFrom('overdue')).toEqual(['active', 'overdue']);
    expect(allowedFrom('final_warning')).toEqual(['overdue', 'final_warning']);
    expect(allowedFrom('suspended')).toEqual(['final_warning', 'suspended']);
    expect(allowedFrom('retained')).toEqual(['suspended', 'retained']);
  });

  it('stamps one column per state and clears them all on restore', () => {
    const now = new Date(T0);
    expect(stateColumns('overdue', now)).toEqual({ overdueSince: now });
    expect(stateColumns('final_warning', now)).toEqual({ finalWarningAt: now });
    expect(stateColumns('suspended', now)).toEqual({ suspendedAt: now });
    expect(stateColumns('retained', now, iso(T0 + DAY))).toEqual({
      retainedAt: now,
      retainUntil: new Date(T0 + DAY),
    });
    expect(stateColumns('active', now)).toMatchObject({
      restoredAt: now,
      overdueSince: null,
      retainUntil: null,
      deletionReviewDueAt: null,
      backupsBlocked: false,
      disputed: false,
    });
  });

  it('restore lifts the backup block, then the suspension', () => {
    expect(restoreLifts()).toEqual(['backups', 'servers']);
  });
});

describe('what comes next', () => {
  it('each state waits for the next rung at its offset from the first failure', () => {
    expect(nextRung(at('overdue'), policy, T0)).toEqual({ rung: 'final_warning', at: iso(T0 + 72 * HOUR) });
    expect(nextRung(at('final_warning'), policy, T0)).toEqual({
      rung: 'suspended',
      at: iso(T0 + 120 * HOUR),
    });
    expect(nextRung(at('suspended'), policy, T0)).toEqual({ rung: 'retained', at: iso(T0 + 14 * DAY) });
    const retainUntil = iso(T0 + 44 * DAY);
    expect(nextRung(at('retained', { retainUntil }), policy, T0)).toEqual({
      rung: 'deletion_review',
      at: retainUntil,
    });
    expect(
      nextRung(at('retained', { retainUntil, deletionReviewDueAt: retainUntil }), policy, T0),
    ).toBeNull();
    expect(nextRung(at('active', { overdueSince: null }), policy, T0)).toBeNull();
  });

  it('a restored account has nothing pending, even before its overdue date is cleared', () => {
    expect(nextRung(at('active'), withReminder, T0)).toBeNull();
    expect(nextAction(at('active'), withReminder)).toBeNull();
  });

  it('extensions and halts shift every rung after overdue', () => {
    expect(nextRung(at('overdue', { shiftMs: 48 * HOUR }), policy, T0)?.at).toBe(iso(T0 + 120 * HOUR));
    expect(nextAction(at('suspended', { shiftMs: HOUR }), policy)?.at).toBe(iso(T0 + 14 * DAY + HOUR));
  });

  it('without the reminder setting there is no reminder rung', () => {
    expect(nextRung(at('overdue'), policy, T0)?.rung).toBe('final_warning');
  });

  it('the reminder lands at its hour, once, and is never what "next" tells the customer', () => {
    expect(nextRung(at('overdue'), withReminder, T0)).toEqual({ rung: 'reminder', at: iso(T0 + 24 * HOUR) });
    expect(nextAction(at('overdue'), withReminder)).toEqual({
      rung: 'final_warning',
      at: iso(T0 + 72 * HOUR),
    });
    expect(nextRung(at('overdue', { noticesSent: ['reminder'] }), withReminder, T0)?.rung).toBe(
      'final_warning',
    );
    expect(nextRung(at('overdue', { shiftMs: 6 * HOUR }), withReminder, T0)?.at).toBe(iso(T0 + 30 * HOUR));
  });

  it('a reminder whose final warning is already due is skipped', () => {
    expect(nextRung(at('overdue'), withReminder, T0 + 72 * HOUR)?.rung).toBe('final_warning');
    const late = { ...policy, reminderAfterMs: 80 * HOUR };
    expect(nextRung(at('overdue'), late, T0)?.rung).toBe('final_warning');
  });

  it('a reminder due at the very moment of the final warning is skipped too', () => {
    const same = { ...policy, reminderAfterMs: policy.finalWarningAfterMs };
    expect(nextRung(at('overdue'), same, T0)).toEqual({ rung: 'final_warning', at: iso(T0 + 72 * HOUR) });
    const justBefore = { ...policy, reminderAfterMs: policy.finalWarningAfterMs - 1 };
    expect(nextRung(at('overdue'), justBefore, T0)?.rung).toBe('reminder');
  });

  it('the database alone gives the rung dates without shifts', () => {
    const account = { overdueSince: new Date(T0), retainUntil: new Date(T0 + 44 * DAY) };
    expect(nextDateFromAccount({ ...account, state: 'overdue' }, withReminder)).toEqual(
      new Date(T0 + 72 * HOUR),
    );
    expect(nextDateFromAccount({ ...account, state: 'final_warning' }, policy)).toEqual(
      new Date(T0 + 120 * HOUR),
    );
    expect(nextDateFromAccount({ ...account, state: 'suspended' }, policy)).toEqual(new Date(T0 + 14 * DAY));
    expect(nextDateFromAccount({ ...account, state: 'retained' }, policy)).toEqual(new Date(T0 + 44 * DAY));
    expect(nextDateFromAccount({ ...account, state: 'active' }, policy)).toBeNull();
  });

  it('the database alone has no next date for an account that never went overdue', () => {
    expect(
      nextDateFromAccount({ state: 'active', overdueSince: null, retainUntil: null }, policy),
    ).toBeNull();
  });
});

describe('a running ladder adopts a new policy', () => {
  const NOW = T0 + 100 * HOUR;
  const dry = testPolicy({ version: 'dry', dryRun: true });
  const enforce = testPolicy({ version: 'enforce', dryRun: false });

  it('the same version in the same mode is current; another version or mode is not', () => {
    expect(isCurrent(enforce, { ...enforce })).toBe(true);
    expect(isCurrent(enforce, { ...enforce, version: 'other' })).toBe(false);
    expect(isCurrent(enforce, { ...enforce, dryRun: true })).toBe(false);
  });

  it('in the same mode only the minimum notice is set: deadlines come from the new policy', () => {
    expect(adoption(enforce, { ...enforce, version: 'v2' }, NOW, 24 * HOUR)).toEqual({
      notBefore: iso(NOW + 24 * HOUR),
    });
    const longer = { ...enforce, finalWarningAfterMs: 200 * HOUR };
    const position = at('overdue', adoption(enforce, longer, NOW, 24 * HOUR));
    expect(nextRung(position, longer, NOW)).toEqual({ rung: 'final_warning', at: iso(T0 + 200 * HOUR) });
  });

  it('no rung lands sooner than the minimum notice after the change, but later ones keep their date', () => {
    const shorter = { ...enforce, finalWarningAfterMs: 24 * HOUR, suspendAfterMs: 130 * HOUR };
    const position = at('overdue', adoption(enforce, shorter, NOW, 24 * HOUR));
    expect(nextRung(position, shorter, NOW)).toEqual({ rung: 'final_warning', at: iso(NOW + 24 * HOUR) });
    expect(nextRung({ ...position, state: 'final_warning' }, shorter, NOW)?.at).toBe(iso(T0 + 130 * HOUR));
    // Pauses, extensions and frozen time still count from the first failure.
    expect(nextRung({ ...position, state: 'final_warning', shiftMs: 30 * HOUR }, shorter, NOW)?.at).toBe(
      iso(T0 + 160 * HOUR),
    );
    expect(nextAction({ ...position, notBefore: null }, shorter)?.at).toBe(iso(T0 + 24 * HOUR));
  });

  it('from dry-run to enforce: real from now, nothing landed or sent counts, the notice floor too', () => {
    expect(adoption(dry, enforce, NOW, HOUR)).toEqual({
      notBefore: iso(NOW + HOUR),
      realFrom: iso(NOW),
      realRungs: [],
      anchor: null,
      noticesSent: [],
    });
  });

  it('from enforce to dry-run (the brake): nothing more is owed and no gap is kept', () => {
    expect(adoption(enforce, dry, NOW, HOUR)).toEqual({
      notBefore: iso(NOW + HOUR),
      realFrom: null,
      realRungs: [],
      anchor: null,
    });
    const braked = at('final_warning', { ...adoption(enforce, dry, NOW, 0), realRungs: ['final_warning'] });
    expect(owedRungs(braked)).toEqual([]);
    expect(nextRung(braked, dry, NOW)).toEqual({ rung: 'suspended', at: iso(T0 + 120 * HOUR) });
  });

  const switched = (state: LadderPosition['state'], extra: Partial<LadderPosition> = {}) =>
    at(state, { ...adoption(dry, enforce, NOW, 24 * HOUR), ...extra });

  it('owes for real what it climbed in dry-run, from the last rung a customer may first hear of', () => {
    const owed = (state: LadderPosition['state'], extra: Partial<LadderPosition> = {}) =>
      owedRungs(switched(state, extra)).map((r) => r.rung);
    expect(owed('active')).toEqual([]);
    expect(owed('overdue')).toEqual(['overdue']);
    expect(owed('final_warning')).toEqual(['final_warning']);
    expect(owed('suspended')).toEqual(['final_warning', 'suspended']);
    expect(owed('retained')).toEqual(['final_warning', 'suspended', 'retained']);
    expect(owed('suspended', { realRungs: ['final_warning'] })).toEqual(['suspended']);
    expect(owed('suspended', { realFrom: null })).toEqual([]);
    expect(owedRungs(at('overdue', { realFrom: iso(NOW) })).map((r) => r.rung)).toEqual(['overdue']);
    expect(LADDER.filter((r) => r.warns).map((r) => r.rung)).toEqual(['overdue', 'final_warning']);
  });

  it('the real notice for where the ladder stands goes out at the switch, before the notice floor', () => {
    expect(nextRung(switched('overdue'), enforce, NOW)).toEqual({ rung: 'overdue', at: iso(NOW) });
    expect(nextRung(switched('suspended'), enforce, NOW)).toEqual({ rung: 'final_warning', at: iso(NOW) });
    expect(nextAction(switched('final_warning'), enforce)).toEqual({ rung: 'final_warning', at: iso(NOW) });
  });

  it('each later rung comes no sooner than its full policy gap after the one before', () => {
    // Overdue 100 h in dry-run: the final warning comes its full 72 h after the real notice.
    expect(nextAction(switched('overdue'), enforce)).toEqual({
      rung: 'final_warning',
      at: iso(NOW + 72 * HOUR),
    });
    const afterNotice = switched('overdue', {
      realRungs: ['overdue'],
      anchor: { rung: 'overdue', at: iso(NOW), shiftMs: 0 },
    });
    expect(nextRung(afterNotice, enforce, NOW)).toEqual({ rung: 'final_warning', at: iso(NOW + 72 * HOUR) });
    // "Would suspend": the warning now, the suspension its 48 h later, retention 9 d after that.
    const wouldSuspend = switched('suspended');
    expect(
      nextRung(
        {
          ...wouldSuspend,
          realRungs: ['final_warning'],
          anchor: { rung: 'final_warning', at: iso(NOW), shiftMs: 0 },
        },
        enforce,
        NOW,
      ),
    ).toEqual({
      rung: 'suspended',
      at: iso(NOW + 48 * HOUR),
    });
    const suspendedReal = {
      ...wouldSuspend,
      realRungs: ['final_warning', 'suspended'] as RungName[],
      anchor: { rung: 'suspended' as const, at: iso(NOW + 48 * HOUR), shiftMs: 0 },
    };
    expect(nextRung(suspendedReal, enforce, NOW)).toEqual({
      rung: 'retained',
      at: iso(NOW + 48 * HOUR + 216 * HOUR),
    });
    // An extension after the anchor pushes the gap back as well.
    expect(nextRung({ ...suspendedReal, shiftMs: 5 * HOUR }, enforce, NOW)?.at).toBe(iso(NOW + 269 * HOUR));
    // A rung owed after the first keeps the notice floor too.
    const late = { ...wouldSuspend, notBefore: iso(NOW + 72 * HOUR) };
    const warned = {
      ...late,
      realRungs: ['final_warning'] as RungName[],
      anchor: { rung: 'final_warning' as const, at: iso(NOW), shiftMs: 0 },
    };
    expect(nextAction(warned, enforce)).toEqual({ rung: 'suspended', at: iso(NOW + 72 * HOUR) });
    // Halted time since the real notice pushes it back like any rung.
    expect(nextRung({ ...switched('overdue'), shiftMs: 10 * HOUR }, enforce, NOW)).toEqual({
      rung: 'overdue',
      at: iso(NOW),
    });
    expect(nextAction({ ...switched('overdue'), shiftMs: 10 * HOUR }, enforce)?.at).toBe(
      iso(NOW + 72 * HOUR),
    );
  });

  it('the deletion review keeps the gap of retention after a retained rung landed for real', () => {
    const retainUntil = iso(T0 + 44 * DAY);
    const position = switched('retained', {
      retainUntil,
      realRungs: ['final_warning', 'suspended', 'retained'],
      anchor: { rung: 'retained', at: iso(NOW + 60 * DAY), shiftMs: 0 },
    });
    expect(nextRung(position, enforce, NOW)).toEqual({ rung: 'deletion_review', at: iso(NOW + 90 * DAY) });
    expect(nextRung({ ...position, anchor: null }, enforce, NOW)?.at).toBe(retainUntil);
  });
});

describe('the reminder setting', () => {
  it('is off by default and leaves the policy (and its version) as it was', () => {
    const { policy: off } = loadConfig(validEnv);
    expect(off).not.toHaveProperty('reminderAfterMs');
    expect(loadConfig({ ...validEnv, POLICY_REMINDER_AFTER_HOURS: '' }).policy.version).toBe(off.version);
  });

  it('sets the reminder hour, which must come before the final warning', () => {
    expect(loadConfig({ ...validEnv, POLICY_REMINDER_AFTER_HOURS: '24' }).policy.reminderAfterMs).toBe(
      24 * HOUR,
    );
    const early = problemsOf({ ...validEnv, POLICY_REMINDER_AFTER_HOURS: '72' });
    expect(early.map((p) => p.variable)).toEqual(['POLICY_REMINDER_AFTER_HOURS']);
    expect(early[0]?.message).toMatch(/earlier than POLICY_FINAL_WARNING_AFTER_HOURS/);
    const garbled = problemsOf({ ...validEnv, POLICY_REMINDER_AFTER_HOURS: 'soon' });
    expect(garbled.map((p) => p.variable)).toEqual(['POLICY_REMINDER_AFTER_HOURS']);
    expect(garbled[0]?.message).toMatch(/hours > 0/);
  });
});
