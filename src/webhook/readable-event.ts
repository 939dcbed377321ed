// What the ingest reads from each handled event's object, checked before anything is applied.
// A signed event is Stripe's, yet its object may still not be what this version of the code can
// act on (another API version, a field missing, a type changed, an amount beyond the column):
// such an event is rejected with the reason these schemas give — never retried for three days.
// The messages name the field and the rule, never the value (values may be customer data).
import type Stripe from 'stripe';
import { z } from 'zod';
import { UnprocessableEventError } from './unprocessable.js';

/** Invoice.amountDue is a PostgreSQL integer. */
export const MAX_AMOUNT = 2_147_483_647;

// eslint-disable-next-line no-control-regex -- control characters are what it finds
const NO_CONTROL_CHARACTERS = /^[^\u0000-\u001f\u007f]*$/;

const stripeId = z
  .string({ message: 'expected a Stripe id' })
  .regex(/^[A-Za-z0-9_-]{1,255}$/, 'expected a Stripe id (letters, digits, _ and -)');

const text = (max: number) =>
  z
    .string({ message: 'expected text' })
    .max(max, `expected at most ${max} characters`)
    .regex(NO_CONTROL_CHARACTERS, 'expected text without control characters');

/** A customer as webhooks send it (an id), expanded (an object with its id), or none. */
const customer = z.union([stripeId, z.looseObject({ id: stripeId }), z.null()], {
  message: 'expected a customer id, a customer object or null',
});

const invoice = z.looseObject({
  id: stripeId,
  customer,
  status: z
    .enum(['draft', 'open', 'paid', 'uncollectible', 'void'], {
      message: 'expected one of draft, open, paid, uncollectible, void',
    })
    .nullish(),
  amount_remaining: z
    .number({ message: 'expected a whole number of the smallest currency unit' })
    .int('expected a whole number of the smallest currency unit')
    .min(0, 'expected a number from 0')
    .max(MAX_AMOUNT, `expected a number up to ${MAX_AMOUNT}`),
  currency: z.string({ message: 'expected a currency code' }).regex(/^[a-z]{3}$/, 'expected a currency code'),
  hosted_invoice_url: text(2048).nullish(),
});

const subscription = z.looseObject({
  id: stripeId,
  customer,
  status: z
    .string({ message: 'expected a subscription status' })
    .regex(/^[a-z_]{1,40}$/, 'expected a subscription status'),
});

// The dispute's charge is read defensively by the ingest (a gap means "orphan"): only its id is
// required here.
const dispute = z.looseObject({ id: stripeId });

const OBJECT_SCHEMAS: Record<string, { what: string; schema: z.ZodType }> = {
  'invoice.payment_failed': { what: 'invoice', schema: invoice },
  'invoice.paid': { what: 'invoice', schema: invoice },
  'invoice.payment_succeeded': { what: 'invoice', schema: invoice },
  'invoice.voided': { what: 'invoice', schema: invoice },
  'invoice.marked_uncollectible': { what: 'invoice', schema: invoice },
  'customer.subscription.updated': { what: 'subscription', schema: subscription },
  'customer.subscription.deleted': { what: 'subscription', schema: subscription },
  'charge.dispute.created': { what: 'dispute', schema: dispute },
};

/** Throws UnprocessableEventError naming each field the code cannot read. */
export function assertReadable(event: Stripe.Event): void {
  const entry = OBJECT_SCHEMAS[event.type];
  if (!entry) return;
  const result = entry.schema.safeParse(event.data.object);
  if (result.success) return;
  const problems = result.error.issues.map(
    (issue) => `data.object.${issue.path.map(String).join('.')}: ${issue.message}`,
  );
  throw new UnprocessableEventError(`unreadable ${entry.what}: ${problems.join('; ')}`.slice(0, 500));
}
