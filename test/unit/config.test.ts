import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/platform/config.js';
import { problemsOf, validEnv } from './support/config.js';

const valid = validEnv;

describe('configuration', () => {
  it('accepts a minimal valid environment and applies the documented defaults', () => {
    const { env, policy } = loadConfig(valid);
    expect(env.PORT).toBe(3000);
    expect(env.TEMPORAL_ADDRESS).toBe('localhost:7233');
    expect(env.TEMPORAL_TASK_QUEUE).toBe('billing-enforcement');
    expect(env.ENFORCEMENT_MODE).toBe('dry-run');
    expect(env.STRIPE_WEBHOOK_SECRET).toEqual(['whsec_one', 'whsec_two']);
    expect(policy.finalWarningAfterMs).toBe(72 * 3_600_000);
    expect(policy.suspendAfterMs).toBe(120 * 3_600_000);
    expect(policy.retainAfterMs).toBe(14 * 86_400_000);
    expect(policy.retentionMs).toBe(30 * 86_400_000);
    expect(policy.dryRun).toBe(true);
    expect(policy.version).toMatch(/^p-[0-9a-f]{10}$/);
  });

  it('names a missing variable and what it expects', () => {
    const { DATABASE_URL: _omit, ...rest } = valid;
    const problems = problemsOf(rest);
    expect(problems.map((p) => p.variable)).toEqual(['DATABASE_URL']);
    expect(problems[0]?.message).toMatch(/missing.*postgresql:\/\//);
  });

  it('names each invalid variable with what is expected', () => {
    const problems = problemsOf({
      ...valid,
      PORT: 'eighty',
      ENFORCEMENT_MODE: 'yolo',
      STRIPE_WEBHOOK_SECRET: 'sk_live_oops',
      TEMPORAL_ADDRESS: 'localhost',
    });
    const byName = Object.fromEntries(problems.map((p) => [p.variable, p.message]));
    expect(Object.keys(byName).sort()).toEqual([
      'ENFORCEMENT_MODE',
      'PORT',
      'STRIPE_WEBHOOK_SECRET',
      'TEMPORAL_ADDRESS',
    ]);
    expect(byName.PORT).toMatch(/TCP port/);
    expect(byName.ENFORCEMENT_MODE).toMatch(/dry-run or enforce/);
    expect(byName['STRIPE_WEBHOOK_SECRET']).toMatch(/whsec_/);
    expect(byName.TEMPORAL_ADDRESS).toMatch(/host:port/);
  });

  it('rejects short tokens, identical tokens and an inverted ladder', () => {
    const problems = problemsOf({
      ...valid,
      ADMIN_TOKEN: valid.INTERNAL_API_TOKEN,
      POLICY_SUSPEND_AFTER_HOURS: '48',
      INTERNAL_API_TOKEN: valid.INTERNAL_API_TOKEN,
    });
    expect(problems.map((p) => p.variable).sort()).toEqual(['ADMIN_TOKEN', 'POLICY_SUSPEND_AFTER_HOURS']);
    expect(problemsOf({ ...valid, INTERNAL_API_TOKEN: 'short' })[0]?.variable).toBe('INTERNAL_API_TOKEN');
  });

  it('takes several tokens per scope and refuses a token in two scopes', () => {
    const next = 'internal-token-next-0123456789abcdef';
    const controller = 'controller-token-0123456789abcdef';
    const env = loadConfig({
      ...valid,
      INTERNAL_API_TOKEN: ` ${valid.INTERNAL_API_TOKEN} , ${next} `,
      CONTROLLER_API_TOKEN: controller,
    }).env;
    expect(env.INTERNAL_API_TOKEN).toEqual([valid.INTERNAL_API_TOKEN, next]);
    expect(env.CONTROLLER_API_TOKEN).toEqual([controller]);
    expect(env.PORTAL_API_TOKEN).toBeUndefined();
    expect(problemsOf({ ...valid, PORTAL_API_TOKEN: `${controller},${valid.ADMIN_TOKEN}` })).toEqual([
      { variable: 'PORTAL_API_TOKEN', message: 'must differ from ADMIN_TOKEN' },
    ]);
    expect(problemsOf({ ...valid, CONTROLLER_API_TOKEN: `${controller},short` })[0]?.variable).toBe(
      'CONTROLLER_API_TOKEN',
    );
  });

  it('gives a new policy version when the policy changes', () => {
    const a = loadConfig(valid).policy.version;
    const b = loadConfig({ ...valid, POLICY_FINAL_WARNING_AFTER_HOURS: '48' }).policy.version;
    expect(a).not.toBe(b);
    expect(loadConfig({ ...valid, POLICY_VERSION: '2026-11' }).policy.version).toBe('2026-11');
  });
});
