// The Resend adapter (the real SDK) against a local stand-in of Resend's API: what it sends,
// and how it answers 429, 5xx, 409 and other 4xx.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRateLimiter } from '../../src/adapters/rate-limit.js';
import { createResendEmailSender } from '../../src/adapters/resend/email.js';
import { PermanentDeliveryError, RateLimitedError } from '../../src/adapters/ports/notifications.js';
import {
  resendError,
  resendRateLimited,
  resendServerError,
  resendValidationError,
  startResendStandin,
  type ResendStandin,
} from '../support/standins/resend.js';

const message = (key: string) => ({
  to: 'owner@customer.example.test',
  subject: 'Payment failed: USD 25.00 due',
  text: 'plain text body',
  html: '<p>html body</p>',
  idempotencyKey: key,
});

describe('Resend email adapter', () => {
  let resend: ResendStandin;
  beforeAll(async () => {
    resend = await startResendStandin();
  });
  afterEach(() => {
    resend.requests.length = 0;
    resend.delivered.length = 0;
  });
  afterAll(async () => {
    await resend.close();
  });

  const sender = (extra: Partial<Parameters<typeof createResendEmailSender>[0]> = {}) =>
    createResendEmailSender({
      apiKey: resend.apiKey,
      from: 'Billing <billing@host.example>',
      replyTo: 'support@host.example',
      baseUrl: resend.url,
      ...extra,
    });

  it('posts /emails with the API key, the Idempotency-Key and every field', async () => {
    const { providerMessageId } = await sender().send(message('wf:run:1:overdue:email'));
    expect(resend.requests).toHaveLength(1);
    const [request] = resend.requests;
    expect(request!.method).toBe('POST');
    expect(request!.path).toBe('/emails');
    expect(request!.headers.authorization).toBe(`Bearer ${resend.apiKey}`);
    expect(request!.headers['idempotency-key']).toBe('wf:run:1:overdue:email');
    expect(JSON.parse(request!.body)).toMatchObject({
      from: 'Billing <billing@host.example>',
      to: 'owner@customer.example.test',
      reply_to: 'support@host.example',
      subject: 'Payment failed: USD 25.00 due',
      text: 'plain text body',
      html: '<p>html body</p>',
    });
    expect(providerMessageId).toBe(resend.delivered[0]!.id);
  });

  it('429 then 200: waits Retry-After, then sends once', async () => {
    resend.script(resendRateLimited(1));
    const limiter = createRateLimiter({ perSecond: 100 });
    await sender({ limiter }).send(message('k-429'));
    expect(resend.requests).toHaveLength(2);
    expect(resend.requests[1]!.at - resend.requests[0]!.at).toBeGreaterThanOrEqual(950);
    expect(resend.delivered).toHaveLength(1);
  });

  it('a 429 asking for longer than the adapter waits goes back to Temporal with the delay', async () => {
    resend.script(resendRateLimited(120));
    const started = Date.now();
    const error = await sender()
      .send(message('k-429-long'))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBe(120_000);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(resend.delivered).toHaveLength(0);
  });

  it('5xx and a concurrent idempotent request are retryable, not permanent', async () => {
    resend.script(resendServerError());
    const e500 = await sender()
      .send(message('k-500'))
      .catch((e: unknown) => e);
    expect(e500).toBeInstanceOf(Error);
    expect(e500).not.toBeInstanceOf(PermanentDeliveryError);
    resend.script(resendError(409, 'concurrent_idempotent_requests', 'in progress'));
    const e409 = await sender()
      .send(message('k-409'))
      .catch((e: unknown) => e);
    expect(e409).not.toBeInstanceOf(PermanentDeliveryError);
  });

  it('500 ×3 then 200: delivered once (the retries are the activity’s)', async () => {
    resend.script(resendServerError(), resendServerError(), resendServerError());
    const s = sender();
    for (let i = 0; i < 3; i++) await expect(s.send(message('k-500x3'))).rejects.toThrow(/500/);
    await s.send(message('k-500x3'));
    expect(resend.requests).toHaveLength(4);
    expect(resend.delivered).toHaveLength(1);
  });

  it('400 / 401 / 422 are permanent: PermanentDeliveryError with the status', async () => {
    resend.script(resendValidationError());
    const e400 = await sender()
      .send(message('k-400'))
      .catch((e: unknown) => e);
    expect(e400).toBeInstanceOf(PermanentDeliveryError);
    expect((e400 as PermanentDeliveryError).status).toBe(400);
    const e401 = await sender({ apiKey: 're_wrong' })
      .send(message('k-401'))
      .catch((e: unknown) => e);
    expect((e401 as PermanentDeliveryError).status).toBe(401);
    const e422 = await sender()
      .send({ ...message('k-422'), subject: '' })
      .catch((e: unknown) => e);
    expect((e422 as PermanentDeliveryError).status).toBe(422);
    expect(resend.delivered).toHaveLength(0);
  });

  it('the same Idempotency-Key twice: one delivery, the original id both times', async () => {
    const first = await sender().send(message('k-dup'));
    const second = await sender().send(message('k-dup'));
    expect(second.providerMessageId).toBe(first.providerMessageId);
    expect(resend.delivered).toHaveLength(1);
  });

  it('stays within EMAIL_RATE_PER_SECOND', async () => {
    const s = sender({ limiter: createRateLimiter({ perSecond: 4 }) });
    await Promise.all(Array.from({ length: 8 }, (_, i) => s.send(message(`k-rate-${i}`))));
    const times = resend.requests.map((r) => r.at).sort((x, y) => x - y);
    // A burst of 4, then one every 250 ms.
    expect(times[7]! - times[0]!).toBeGreaterThanOrEqual(950);
    expect(resend.delivered).toHaveLength(8);
  });
});
