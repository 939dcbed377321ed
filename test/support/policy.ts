// The default ladder as tests use it: the real default durations, a circuit breaker that never
// trips and a one-second shutdown timeout, so a test states only what it changes.
import { type EnforcementPolicy } from '../../src/workflows/definitions.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export function testPolicy(overrides: Partial<EnforcementPolicy> = {}): EnforcementPolicy {
  return {
    version: 'test-1',
    finalWarningAfterMs: 72 * HOUR,
    suspendAfterMs: 120 * HOUR,
    retainAfterMs: 14 * DAY,
    retentionMs: 30 * DAY,
    restartServersOnRestore: true,
    dryRun: false,
    minAmountDueCents: 100,
    suspensionBreaker: { threshold: 1000, windowMs: HOUR },
    shutdownTimeoutMs: 1000,
    ...overrides,
  };
}
