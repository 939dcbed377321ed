// The notification ledger's rules without its database: a key already sent is never sent again,
// a send left in doubt by a stopped worker is not repeated, failures end after the last attempt.
import { describe, expect, it } from 'vitest';
import { PermanentDeliveryError, RateLimitedError } from '../../src/adapters/ports/notifications.js';
import {
  alertsOnFailure,
  isLastAttempt,
  retryDelayMs,
  stepFor,
} from '../../src/activities/ledger-decisions.js';

const at = new Date('2026-01-01T00:00:00Z');

describe('stepFor: what a row found for the key calls for', () => {
  it.each([
    ['sent', null, 'already_sent'],
    ['logged', null, 'already_sent'],
    // Final answers win over a leftover sending mark.
    ['sent', at, 'already_sent'],
    ['logged', at, 'already_sent'],
    ['unconfirmed', null, 'unconfirmed'],
    ['unconfirmed', at, 'unconfirmed'],
    // A worker stopped between the request and the answer: never sent again.
    ['pending', at, 'mark_unconfirmed'],
    ['failed', at, 'mark_unconfirmed'],
    ['failed', null, 'alert_failed'],
    ['pending', null, 'send'],
  ] as const)('status %s, sendingAt %s → %s', (status, sendingAt, step) => {
    expect(stepFor({ status, sendingAt })).toBe(step);
  });
});

describe('isLastAttempt', () => {
  it('a permanent refusal is the last attempt, whatever the count', () => {
    expect(isLastAttempt(new PermanentDeliveryError('invalid address', 422), 1, 5)).toBe(true);
  });

  it('other errors: the last attempt is the maximum', () => {
    const error = new Error('timeout');
    expect(isLastAttempt(error, 4, 5)).toBe(false);
    expect(isLastAttempt(error, 5, 5)).toBe(true);
    expect(isLastAttempt(error, 6, 5)).toBe(true);
    expect(isLastAttempt(new RateLimitedError('slow down', 1000), 1, 5)).toBe(false);
  });
});

describe('retryDelayMs', () => {
  it("a rate limit: the provider's delay, at least 1 ms", () => {
    expect(retryDelayMs(new RateLimitedError('slow down', 2500))).toBe(2500);
    expect(retryDelayMs(new RateLimitedError('slow down', 0))).toBe(1);
    expect(retryDelayMs(new RateLimitedError('slow down', -10))).toBe(1);
  });

  it("anything else: the retry policy's backoff", () => {
    expect(retryDelayMs(new Error('timeout'))).toBeUndefined();
    expect(retryDelayMs(new PermanentDeliveryError('gone'))).toBeUndefined();
  });
});

describe('alertsOnFailure', () => {
  it('customer emails and billing posts alert ops; ops alerts themselves do not', () => {
    expect(alertsOnFailure('email')).toBe(true);
    expect(alertsOnFailure('discord_billing')).toBe(true);
    expect(alertsOnFailure('discord_ops')).toBe(false);
  });
});
