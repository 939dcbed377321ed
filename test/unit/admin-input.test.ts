// The workflow checks admin input by hand (no zod in the workflow bundle); the HTTP API and the
// CLI check it with zod. Both must accept and refuse the same inputs.
import { describe, expect, it } from 'vitest';
import { adminInputSchema, extendGraceInputSchema } from '../../src/accounts/admin-update-schemas.js';
import { adminInputIssues, applyPolicyInputIssues } from '../../src/workflows/admin-input.js';

const ok = { actor: 'ops@example', reason: 'customer called' };

const adminCases: [string, unknown][] = [
  ['valid', ok],
  ['reason exactly 3 characters', { actor: 'a', reason: 'abc' }],
  ['reason 3 characters after trimming', { actor: 'a', reason: '  abc  ' }],
  ['reason 2 characters after trimming', { actor: 'a', reason: ' ab   ' }],
  ['actor blank', { actor: '   ', reason: 'abc' }],
  ['actor missing', { reason: 'abc' }],
  ['reason missing', { actor: 'a' }],
  ['actor not a string', { actor: 7, reason: 'abc' }],
  ['actor 200 characters', { actor: 'a'.repeat(200), reason: 'abc' }],
  ['actor 201 characters', { actor: 'a'.repeat(201), reason: 'abc' }],
  ['reason 1000 characters', { actor: 'a', reason: 'r'.repeat(1000) }],
  ['reason 1001 characters', { actor: 'a', reason: 'r'.repeat(1001) }],
  ['unknown key', { ...ok, extra: true }],
  ['hours on a plain update', { ...ok, hours: 3 }],
  ['null', null],
  ['array', [ok]],
  ['string', 'ops'],
];

const graceCases: [string, unknown][] = [
  ['valid', { ...ok, hours: 24 }],
  ['fractional hours', { ...ok, hours: 1.5 }],
  ['90 days', { ...ok, hours: 2160 }],
  ['over 90 days', { ...ok, hours: 2160.5 }],
  ['zero hours', { ...ok, hours: 0 }],
  ['negative hours', { ...ok, hours: -1 }],
  ['hours as a string', { ...ok, hours: '24' }],
  ['hours missing', ok],
  ['NaN hours', { ...ok, hours: Number.NaN }],
  ['infinite hours', { ...ok, hours: Number.POSITIVE_INFINITY }],
  ['unknown key', { ...ok, hours: 24, extra: 1 }],
];

describe('admin input: the workflow and the API agree', () => {
  it.each(adminCases)('plain update, %s', (_name, input) => {
    const accepted = adminInputIssues(input).length === 0;
    expect(accepted).toBe(adminInputSchema.safeParse(input).success);
  });

  it.each(graceCases)('extend grace, %s', (_name, input) => {
    const accepted = adminInputIssues(input, { hours: true }).length === 0;
    expect(accepted).toBe(extendGraceInputSchema.safeParse(input).success);
  });

  it('names the field and says what is expected', () => {
    expect(adminInputIssues({ actor: '', reason: 'x' })).toEqual([
      'actor: actor is required',
      'reason: reason is required (at least 3 characters)',
    ]);
    expect(adminInputIssues({ ...ok, hours: 0 }, { hours: true })).toEqual(['hours: hours must be > 0']);
    expect(adminInputIssues({ ...ok, note: 1 })).toEqual(['input: unrecognized keys note']);
  });

  it('each table holds inputs both accepted and refused', () => {
    const plain = adminCases.map(([, input]) => adminInputSchema.safeParse(input).success);
    const grace = graceCases.map(([, input]) => extendGraceInputSchema.safeParse(input).success);
    expect(new Set(plain)).toEqual(new Set([true, false]));
    expect(new Set(grace)).toEqual(new Set([true, false]));
  });
});

describe('applyPolicy input, as the workflow checks it', () => {
  const policy = {
    version: 'p-1',
    finalWarningAfterMs: 72,
    suspendAfterMs: 120,
    retainAfterMs: 336,
    retentionMs: 720,
    restartServersOnRestore: true,
    dryRun: false,
    minAmountDueCents: 100,
    suspensionBreaker: { threshold: 25, windowMs: 60 },
    shutdownTimeoutMs: 1000,
  };
  const cases: [string, unknown, RegExp | null][] = [
    ['valid', { ...ok, policy }, null],
    [
      'valid with a reminder and a notice',
      { ...ok, policy: { ...policy, reminderAfterMs: 24 }, minNoticeHours: 0 },
      null,
    ],
    ['not an object', 'apply', /^input:/],
    ['no policy', ok, /^policy: expected an object/],
    ['no reason', { actor: 'a', policy }, /^reason:/],
    ['an unknown key', { ...ok, policy, force: true }, /unrecognized keys force/],
    ['an empty version', { ...ok, policy: { ...policy, version: ' ' } }, /^policy\.version/],
    ['a negative duration', { ...ok, policy: { ...policy, suspendAfterMs: -1 } }, /^policy\.suspendAfterMs/],
    ['rungs out of order', { ...ok, policy: { ...policy, suspendAfterMs: 72 } }, /come in order/],
    [
      'a reminder after the final warning',
      { ...ok, policy: { ...policy, reminderAfterMs: 80 } },
      /come in order/,
    ],
    ['a mode that is not a boolean', { ...ok, policy: { ...policy, dryRun: 'no' } }, /^policy\.dryRun/],
    ['no circuit breaker', { ...ok, policy: { ...policy, suspensionBreaker: null } }, /suspensionBreaker/],
    ['a negative notice', { ...ok, policy, minNoticeHours: -1 }, /^minNoticeHours/],
    ['a notice over 90 days', { ...ok, policy, minNoticeHours: 2161 }, /^minNoticeHours/],
  ];
  for (const [name, input, problem] of cases) {
    it(name, () => {
      const issues = applyPolicyInputIssues(input);
      if (problem === null) expect(issues).toEqual([]);
      else
        expect(
          issues.some((i) => problem.test(i)),
          issues.join('; '),
        ).toBe(true);
    });
  }
});
