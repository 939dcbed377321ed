// POST /webhooks/stripe — Stripe's delivery contract: 400 only for a request that is not a
// genuine current Stripe delivery (nothing is recorded), 200 once the event is recorded and its
// effect accepted (also for types we ignore, and for an event whose content this version cannot
// process: stored rejected and alerted, for a replay after a fix), 5xx when we failed, so Stripe
// retries for 3 days.
import { type FastifyInstance } from 'fastify';
import { type Logger } from '../platform/logger.js';
import { webhookDuration, webhookEvents } from '../platform/observability/metrics.js';
import { type StripeEventIngest } from './ingest.js';
import { verifyStripeWebhook, WebhookRejectedError } from './verify-signature.js';
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
        if (retryAfter > 0)
          return reply
            .code(429)
            .header('retry-after', String(retryAfter))
            .send({
              error: 'too_many_requests',
              message: `too many requests with a bad signature from this address; retry after ${retryAfter} s`,
            });
      });
    }

    scope.post(STRIPE_WEBHOOK_PATH, { config: { rateLimit: false } }, async (request, reply) => {
      const stopTimer = webhookDuration.startTimer();
      const body = request.body;
      if (!Buffer.isBuffer(body) || body.length === 0) {
        webhookEvents.inc({ type: 'unknown', outcome: 'rejected' });
        stopTimer({ outcome: 'rejected' });
        return reply.code(400).send({ error: 'bad_request', message: 'empty body' });
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
        return reply.code(400).send({ error: 'bad_request', message: error.message });
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
          return reply
            .code(503)
            .header('retry-after', '30')
            .send({ error: 'unavailable', message: `${dependency} is unavailable; retry later` });
        }
        return reply.code(500).send({ error: 'internal', message: 'the event was not applied; retry later' });
      }
    });
    done();
  });
}
