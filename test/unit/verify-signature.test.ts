// The webhook's signature check on its own: the raw body against every configured secret,
// Stripe's tolerance for old timestamps and ours for future ones, and the event's envelope.
import { describe, expect, it } from 'vitest';
import { buildEvent, signPayload, simulatedEvent } from '../../src/webhook/event-builders.js';
import {
  FUTURE_TOLERANCE_SECONDS,
  verifyStripeWebhook,
  WebhookRejectedError,
} from '../../src/webhook/verify-signature.js';

const SECRET = 'whsec_unit_current_0123456789';
const ROTATED = 'whsec_unit_previous_0123456789';
// Stripe checks the age of a timestamp against the real clock, so the tests' now is the real one.
const NOW = Math.floor(Date.now() / 1000);

const event = simulatedEvent('payment-failed', { customer: 'cus_unit', created: NOW - 10 });
const body = JSON.stringify(event);

function rejection(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookRejectedError);
    expect((error as Error).name).toBe('WebhookRejectedError');
    return (error as Error).message;
  }
  throw new Error('expected the delivery to be rejected');
}

const verify = (payload: string, header: string | string[] | undefined, secrets = [SECRET], now = NOW) =>
  verifyStripeWebhook(Buffer.from(payload), header, secrets, now);

describe('verifyStripeWebhook', () => {
  it('accepts a body signed with the secret, and returns the event as sent', () => {
    expect(verify(body, signPayload(body, SECRET, NOW))).toEqual(event);
  });

  it('accepts either secret while one is being rotated, in any order', () => {
    const header = signPayload(body, ROTATED, NOW);
    expect(verify(body, header, [SECRET, ROTATED]).id).toBe(event.id);
    expect(verify(body, header, [ROTATED, SECRET]).id).toBe(event.id);
  });

  it('refuses another secret, naming the reason Stripe gave', () => {
    const message = rejection(() => verify(body, signPayload(body, 'whsec_someone_else', NOW)));
    expect(message).toMatch(/^signature verification failed: No signatures found matching/);
    expect(message).not.toContain('\n');
  });

  it('refuses when no secret is configured', () => {
    expect(rejection(() => verify(body, signPayload(body, SECRET, NOW), []))).toBe(
      'signature verification failed: no signature matches',
    );
  });

  it('refuses a tampered body', () => {
    const tampered = body.replace('"amount_due":2500', '"amount_due":1');
    expect(tampered).not.toBe(body);
    expect(rejection(() => verify(tampered, signPayload(body, SECRET, NOW)))).toMatch(
      /^signature verification failed/,
    );
  });

  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['a blank header', '   '],
    ['a repeated header', ['t=1,v1=a', 't=1,v1=b']],
  ])('refuses %s', (_, header) => {
    expect(rejection(() => verify(body, header))).toBe('missing Stripe-Signature header');
  });

  it.each([
    ['no t= part', 'v1=abc'],
    ['a t= that is not a number', 't=12a,v1=abc'],
    ['an empty t=', 't=,v1=abc'],
    ['a t= that does not start with a digit', 't=a12,v1=abc'],
    ['a t with no = at all', 't,v1=abc'],
  ])('refuses a header with %s', (_, header) => {
    expect(rejection(() => verify(body, header))).toBe('Stripe-Signature has no timestamp');
  });

  it('refuses a header with two t= values, whichever of them is the signed one', () => {
    const signed = signPayload(body, SECRET, NOW);
    for (const header of [
      `t=${NOW - 86_400},${signed}`,
      `${signed},t=${NOW}`,
      `t=${NOW},t=${NOW},v1=abc`,
      ` t = 1 ,${signed}`,
    ]) {
      expect(rejection(() => verify(body, header))).toBe('Stripe-Signature has more than one timestamp');
    }
  });

  it('reads the timestamp wherever it stands in the header', () => {
    const [t, v1] = signPayload(body, SECRET, NOW).split(',');
    expect(verify(body, `${v1},${t}`).id).toBe(event.id);
    expect(verify(body, `${v1},v0=x,${t}`).id).toBe(event.id);
  });

  it('takes the time from t= only, not from another number in the header', () => {
    const header = signPayload(body, SECRET, NOW);
    expect(verify(body, `v0=${NOW + 3600},${header}`).id).toBe(event.id);
    expect(verify(body, `x=${NOW + 3600},${header}`).id).toBe(event.id);
  });

  it('skips header parts without =', () => {
    expect(verify(body, `junk,${signPayload(body, SECRET, NOW)}`).id).toBe(event.id);
  });

  it('reads a timestamp with spaces around it (a future one is refused before any secret is tried)', () => {
    expect(rejection(() => verify(body, ` t = ${NOW + 3600} ,v1=abc`))).toBe(
      'Stripe-Signature timestamp is in the future',
    );
  });

  it('future timestamps: up to the tolerance accepted, one second more refused', () => {
    const edge = NOW + FUTURE_TOLERANCE_SECONDS;
    expect(FUTURE_TOLERANCE_SECONDS).toBe(300);
    expect(verify(body, signPayload(body, SECRET, edge)).id).toBe(event.id);
    expect(rejection(() => verify(body, signPayload(body, SECRET, edge + 1)))).toBe(
      'Stripe-Signature timestamp is in the future',
    );
  });

  it("past timestamps: Stripe's tolerance of 300 seconds", () => {
    // Stripe reads its own clock: take it fresh and keep a margin, so a slow run cannot age the
    // accepted one past the limit (the exact boundary is stripe-node's, not ours).
    const now = Math.floor(Date.now() / 1000);
    expect(verify(body, signPayload(body, SECRET, now - 290), [SECRET], now).id).toBe(event.id);
    expect(rejection(() => verify(body, signPayload(body, SECRET, now - 301), [SECRET], now))).toMatch(
      /^signature verification failed: Timestamp outside the tolerance zone/,
    );
  });

  it('uses the clock when no time is given', () => {
    const now = Math.floor(Date.now() / 1000);
    expect(verifyStripeWebhook(Buffer.from(body), signPayload(body, SECRET, now), [SECRET]).id).toBe(
      event.id,
    );
    expect(
      rejection(() =>
        verifyStripeWebhook(Buffer.from(body), signPayload(body, SECRET, now + 3600), [SECRET]),
      ),
    ).toBe('Stripe-Signature timestamp is in the future');
  });

  it('refuses a signed body that is not JSON', () => {
    expect(rejection(() => verify('not json', signPayload('not json', SECRET, NOW)))).toBe(
      'body is not JSON',
    );
  });

  it.each([
    ['an id that is not an event id', { ...event, id: 'in_123' }],
    ['an event id with a prefix', { ...event, id: `x${event.id}` }],
    ['an event id with a suffix', { ...event, id: `${event.id}-x` }],
    ['an object other than event', { ...event, object: 'invoice' }],
    ['no type', { ...event, type: '' }],
    ['a created time that is not positive', { ...event, created: 0 }],
    ['a created time that is not whole', { ...event, created: 1.5 }],
    ['no data object', { ...event, data: {} }],
    ['a data object with a numeric id', { ...event, data: { object: { id: 1 } } }],
    ['a JSON array', [event]],
  ])('refuses signed JSON with %s', (_, shape) => {
    const payload = JSON.stringify(shape);
    expect(rejection(() => verify(payload, signPayload(payload, SECRET, NOW)))).toBe(
      'body is not a Stripe event',
    );
  });

  it('accepts an event of a type it does not handle, and an object without an id', () => {
    const other = buildEvent('customer.created', { object: 'customer' }, { created: NOW });
    const payload = JSON.stringify(other);
    expect(verify(payload, signPayload(payload, SECRET, NOW))).toEqual(other);
  });
});
