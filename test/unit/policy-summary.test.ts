import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/platform/config.js';
import { describePolicy, humanDuration, policyInHours } from '../../src/platform/policy-summary.js';

const base = {
  DATABASE_URL: 'postgresql://u:p@localhost/db',
  INTERNAL_API_TOKEN: 'x'.repeat(32),
  ADMIN_TOKEN: 'y'.repeat(32),
  STRIPE_WEBHOOK_SECRET: 'whsec_test',
};

describe('policy summary', () => {
  it('gives the policy in force in hours and days for JSON answers', () => {
    const policy = loadConfig({
      ...base,
      ENFORCEMENT_MODE: 'enforce',
      POLICY_REMINDER_AFTER_HOURS: '30',
    }).policy;
    expect(policyInHours(policy)).toEqual({
      version: policy.version,
      mode: 'enforce',
      reminderAfter: { hours: 30, days: 1.25 },
      finalWarningAfter: { hours: 72, days: 3 },
      suspendAfter: { hours: 120, days: 5 },
      retainAfter: { hours: 336, days: 14 },
      retention: { hours: 720, days: 30 },
    });
    expect(policyInHours(loadConfig(base).policy)).toMatchObject({ mode: 'dry-run', reminderAfter: null });
  });

  it('writes durations in the units operators think in', () => {
    expect(humanDuration(72 * 3_600_000)).toBe('72 h (3 d)');
    expect(humanDuration(14 * 86_400_000)).toBe('14 d (336 h)');
    expect(humanDuration(2 * 60_000)).toBe('2 min (0.03 h)');
  });

  it('prints the default ladder in hours and days, and the mode', () => {
    const lines = describePolicy(loadConfig(base).policy).join('\n');
    expect(lines).toMatch(/mode dry-run/);
    expect(lines).toMatch(/final warning\s+after 72 h \(3 d\)/);
    expect(lines).toMatch(/suspension\s+after 120 h \(5 d\)/);
    expect(lines).toMatch(/retained\s+after 14 d \(336 h\)/);
    expect(lines).toMatch(/deletion review due\s+30 d \(720 h\) after retained/);
    expect(describePolicy(loadConfig({ ...base, ENFORCEMENT_MODE: 'enforce' }).policy)[0]).toMatch(
      /mode enforce$/,
    );
  });
});
