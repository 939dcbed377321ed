// Webhook verification: the raw body against every configured secret (rotation: any one
// verifies), Stripe's own tolerance for old timestamps, and ours for timestamps in the future —
// stripe-node only checks age, so a signature minted with a skewed clock would live forever.
import Stripe from 'stripe';
import { z } from 'zod';

export const FUTURE_TOLERANCE_SECONDS = 300;

/** The request is not a genuine, current Stripe delivery: 400, nothing recorded. */
export class WebhookRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookRejectedError';
  }
}

// The few fields everything downstream relies on; the rest of the event is kept as Stripe sent it.
// Also the webhook's request body in /openapi.json (ASCII classes: a pattern's \w means more
// than A-Z a-z 0-9 _ in other readers' regular expressions).
export const eventEnvelope = z.object({
  id: z.string().regex(/^evt_[A-Za-z0-9_]+$/),
  object: z.literal('event'),
  type: z.string().min(1),
  created: z.number().int().positive(),
  data: z.object({ object: z.looseObject({ id: z.string().optional() }) }),
});

/**
 * The one `t=` of the header. Two would let the future-timestamp check read one and stripe-node
 * verify the other, so a header with more than one is not a Stripe delivery.
 */
function signedTimestamp(header: string): number | undefined {
  const values: string[] = [];
  for (const part of header.split(',')) {
    const [key, value] = part.split('=', 2);
    // Stryker disable next-line OptionalChaining: equivalent, split always yields a key
    if (key?.trim() !== 't') continue;
    // Stryker disable next-line StringLiteral: equivalent, a t without a value is no number whatever stands in for it
    values.push(value?.trim() ?? '');
  }
  if (values.length > 1) throw new WebhookRejectedError('Stripe-Signature has more than one timestamp');
  const [value] = values;
  // Stryker disable next-line ConditionalExpression: equivalent, RegExp.test(undefined) reads "undefined", no number either
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

export function verifyStripeWebhook(
  rawBody: Buffer,
  header: string | string[] | undefined,
  secrets: readonly string[],
  nowSeconds = Math.floor(Date.now() / 1000),
): Stripe.Event {
  if (typeof header !== 'string' || header.trim() === '') {
    throw new WebhookRejectedError('missing Stripe-Signature header');
  }
  const timestamp = signedTimestamp(header);
  if (timestamp === undefined) throw new WebhookRejectedError('Stripe-Signature has no timestamp');
  if (timestamp > nowSeconds + FUTURE_TOLERANCE_SECONDS) {
    throw new WebhookRejectedError('Stripe-Signature timestamp is in the future');
  }
  let event: unknown;
  let lastReason = 'no signature matches';
  for (const secret of secrets) {
    try {
      event = Stripe.webhooks.constructEvent(rawBody, header, secret);
      break;
    } catch (error) {
      if (error instanceof Stripe.errors.StripeSignatureVerificationError) {
        lastReason = error.message.split('\n')[0]!;
        continue;
      }
      // Signed by Stripe's secret, but not JSON: constructEvent parses after verifying.
      throw new WebhookRejectedError('body is not JSON');
    }
  }
  if (event === undefined) throw new WebhookRejectedError(`signature verification failed: ${lastReason}`);

  const envelope = eventEnvelope.safeParse(event);
  if (!envelope.success) throw new WebhookRejectedError('body is not a Stripe event');
  // Verified and shaped like an event: from here on it is Stripe's own type.
  return event as Stripe.Event;
}
