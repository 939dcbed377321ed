// POST /webhooks/stripe — Stripe's delivery contract: 400 only for a request that is not a
// genuine current Stripe delivery (nothing is recorded), 200 once the event is recorded and its
// effect accepted (also for types we ignore, and for an event whose content this version cannot
// process: stored rejected and alerted, for a replay after a fix), 5xx when we failed, so Stripe
// retries for 3 days.
import { type FastifyInstance, type FastifySchemaCompiler } from 'fastify';
import { validatorCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type Logger } from '../platform/logger.js';
import { webhookDuration, webhookEvents } from '../platform/observability/metrics.js';
import { INGEST_STATUSES, type StripeEventIngest } from './ingest.js';
import { eventEnvelope, verifyStripeWebhook, WebhookRejectedError } from './verify-signature.js';
import { errorResponse, errorResponses, json, RETRY_AFTER, type ResponseDoc } from '../api/contract.js';
import { sendError } from '../api/validation.js';
import { unavailableDependency } from './dependency-errors.js';
import { type AuthFailureLimiter } from '../api/rate-limits.js';

export interface StripeWebhookDeps {
  secrets: readonly string[];
  ingest: StripeEventIngest;
  logger: Logger;
  /** Counts bad signatures per address; past its limit the address gets 429 (src/api/rate-limits.ts). */
  authFailures?: AuthFailureLimiter;
}

export const STRIPE_WEBHOOK_PATH = '/webhooks/stripe';

/** Stripe's header: `t=<unix time>,v1=<hex HMAC-SHA256>` (more `v1=` while a secret rolls). */
export const STRIPE_SIGNATURE_PATTERN = /^t=[0-9]+(,[a-z0-9]+=[^,]+)+$/;

const signatureHeaders = z.looseObject({
  'stripe-signature': z
    .string({ message: 'the Stripe-Signature header is required' })
    .regex(STRIPE_SIGNATURE_PATTERN, 'expected t=<unix time>,v1=<signature>')
    .describe(
      "Stripe's signature of the exact body bytes: `t=<unix time>,v1=<hex HMAC-SHA256>`, made with a configured webhook secret (STRIPE_WEBHOOK_SECRET), at most 5 minutes old and not in the future; exactly one `t=`",
    ),
});

const receivedSchema = z
  .object({
    received: z.literal(true),
    status: z
      .enum([...INGEST_STATUSES, 'duplicate'])
      .describe(
        'rejected: signed, but this version cannot process its content; stored for a replay. unresolved: a dispute whose account nobody can tell yet; an ops alert says what to do, and a redelivery tries again',
      ),
    outcome: z.string().describe('what processing did, for operators'),
  })
  .meta({ id: 'WebhookReceived' });

const tooManyBadSignatures = errorResponse(
  'Too many requests with a bad signature from this address in the last minute; nothing was read',
  RETRY_AFTER,
);

// The signature covers the raw bytes: the body is checked by verifyStripeWebhook (signature
// first, then the StripeEvent shape), never parsed and re-checked by the schema beforehand.
const headersOnly: FastifySchemaCompiler<unknown> = (route) =>
  route.httpPart === 'body'
    ? (data: unknown) => ({ value: data })
    : validatorCompiler({ ...route, schema: route.schema as z.ZodType });

export function stripeWebhookRoutes(app: FastifyInstance, deps: StripeWebhookDeps) {
  // Its own scope: the signature covers the exact bytes, so this route must see them unparsed.
  void app.register((scope, _options, done) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) =>
      done(null, body),
    );

    // A sender of forged signatures is slowed down like a guesser of tokens; Stripe itself never
    // fails the check, so its deliveries are never throttled (no per-client limit here: a
    // backlog arrives as a burst).
    const failures = deps.authFailures;
    if (failures) {
      scope.addHook('onRequest', async (request, reply) => {
        const retryAfter = failures.retryAfterSeconds(request.ip);
        if (retryAfter > 0) {
          void reply.header('retry-after', String(retryAfter));
          return sendError(reply, 429, {
            error: 'too_many_requests',
            message: `too many requests with a bad signature from this address; retry after ${retryAfter} s`,
          });
        }
      });
      // A missing or malformed Stripe-Signature fails the route's schema: a bad signature too.
      scope.addHook('onError', async (request, _reply, error) => {
        if ((error as { validation?: unknown }).validation) failures.record(request.ip);
      });
    }

    scope.post(
      STRIPE_WEBHOOK_PATH,
      {
        config: { rateLimit: false },
        validatorCompiler: headersOnly,
        schema: {
          tags: ['webhook'],
          operationId: 'stripeWebhook',
          summary: 'Stripe webhook: signature-verified, recorded, then applied (signal / start the ladder)',
          description:
            "Stripe's event delivery, exactly as Stripe sent it: the raw JSON bytes are verified against Stripe-Signature with each configured webhook secret before anything is read. A request that is not a genuine, current Stripe delivery (no or a malformed header, a signature no secret verifies, a timestamp over 5 minutes old or in the future, two `t=` values, a body that is not JSON or not a Stripe event) is answered 400 and nothing is recorded. Also served on the public listener (PUBLIC_PORT).",
          headers: signatureHeaders,
          body: eventEnvelope.meta({ id: 'StripeEvent' }),
          response: {
            200: json(
              receivedSchema,
              'Recorded, and applied once (ignored types, unknown customers and stale events too)',
            ),
            ...errorResponses(
              {
                body: true,
                limited: false,
                invalid:
                  'not a genuine, current Stripe delivery: Stripe-Signature missing or malformed, no configured secret verifies the signature of these exact bytes, the timestamp is over 5 minutes old or in the future, or the signed body is not JSON or not a Stripe event',
              },
              {
                500: errorResponse('Not applied (a fault on our side): Stripe retries'),
                503: errorResponse(
                  'PostgreSQL, Temporal or the Stripe API is unavailable: not applied, Stripe retries',
                  RETRY_AFTER,
                ),
                ...((deps.authFailures ? { 429: tooManyBadSignatures } : {}) as Record<number, ResponseDoc>),
              },
            ),
          },
        },
      },
      async (request, reply) => {
        const stopTimer = webhookDuration.startTimer();
        const body: unknown = request.body;
        if (!Buffer.isBuffer(body) || body.length === 0) {
          webhookEvents.inc({ type: 'unknown', outcome: 'rejected' });
          stopTimer({ outcome: 'rejected' });
          return sendError(reply, 400, { error: 'bad_request', message: 'empty body' });
        }
        let event;
        try {
          event = verifyStripeWebhook(body, request.headers['stripe-signature'], deps.secrets);
        } catch (error) {
          if (!(error instanceof WebhookRejectedError)) throw error;
          request.log.warn({ reason: error.message }, 'stripe webhook rejected');
          failures?.record(request.ip);
          webhookEvents.inc({ type: 'unknown', outcome: 'rejected' });
          stopTimer({ outcome: 'rejected' });
          return sendError(reply, 400, { error: 'bad_request', message: error.message });
        }

        try {
          const result = await deps.ingest(event, { rawBody: body });
          const rejected = result.status === 'rejected';
          request.log[rejected ? 'warn' : 'info'](
            {
              eventId: result.eventId,
              type: result.type,
              accountId: result.accountId,
              status: result.status,
              ...(rejected ? { reason: result.outcome } : {}),
            },
            rejected ? 'stripe event rejected: stored for a replay' : 'stripe event',
          );
          // `rejected` already counts requests refused with 400 (signature, not an event).
          const outcome = rejected ? 'unprocessable' : result.status;
          webhookEvents.inc({ type: event.type, outcome });
          stopTimer({ outcome });
          return reply.code(200).send({ received: true, status: result.status, outcome: result.outcome });
        } catch (error) {
          const dependency = unavailableDependency(error);
          const message = error instanceof Error ? error.message : String(error);
          request.log.error(
            { eventId: event.id, type: event.type, dependency, err: message },
            'stripe event not applied; Stripe will retry',
          );
          webhookEvents.inc({ type: event.type, outcome: 'failed' });
          stopTimer({ outcome: 'failed' });
          if (dependency) {
            void reply.header('retry-after', '30');
            return sendError(reply, 503, {
              error: 'unavailable',
              message: `${dependency} is unavailable; retry later`,
            });
          }
          return sendError(reply, 500, {
            error: 'internal',
            message: 'the event was not applied; retry later',
          });
        }
      },
    );
    done();
  });
}
