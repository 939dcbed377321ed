// The admin API for Stripe events (ADMIN_TOKEN): find the events the service rejected (their
// content could not be processed by the code deployed then) and replay one after the fix. The
// replay goes through the webhook's own ingest (src/webhook/replay.ts); who asked and why is
// recorded with its result.
import { type FastifyInstance } from 'fastify';
import { type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type PrismaClient } from '../../platform/database.js';
import { adminInputSchema } from '../../accounts/admin-update-schemas.js';
import { unavailableDependency } from '../../webhook/dependency-errors.js';
import { APPLIED_STATUSES, INGEST_STATUSES, type StripeEventIngest } from '../../webhook/ingest.js';
import { replayRejectedEvent } from '../../webhook/replay.js';
import { type Scope } from '../auth.js';
import { integerString, notFound, sendError, timestampSchema } from '../validation.js';
import { errorResponse, errorResponses, json, RETRY_AFTER } from '../contract.js';

export interface EventRouteDeps {
  db: PrismaClient;
  ingest: StripeEventIngest;
}

// received: being applied; failed: an outage, Stripe redelivers it.
export const STRIPE_EVENT_STATUSES = ['received', ...INGEST_STATUSES, 'failed'] as const;

// At most 100 characters, like every path parameter (a longer one is a 414 before routing).
// Stripe's ids are evt_…, but any id of the service's id alphabet is a fair question: one it has
// not stored is a 404, not a malformed request (a client holding another kind of id gets told so).
const EVENT_ID_RULE = 'expected an event id: 1 to 100 of A-Z a-z 0-9 _ . : -';
export const eventIdSchema = z
  .string({ message: EVENT_ID_RULE })
  .regex(/^[A-Za-z0-9_.:-]{1,100}$/, EVENT_ID_RULE)
  .describe('a Stripe event id (evt_…); an id no stored event has is a 404');

export const eventParamsSchema = z.object({ eventId: eventIdSchema }).strict();

export const listEventsQuerySchema = z
  .object({
    status: z.enum(STRIPE_EVENT_STATUSES).optional().describe('default: rejected'),
    limit: integerString(1, 500, 'limit: a whole number from 1 to 500').optional().describe('default 50'),
  })
  .strict();

export const replayBodySchema = adminInputSchema;

export const stripeEventSummarySchema = z
  .object({
    id: z.string(),
    type: z.string(),
    status: z.enum(STRIPE_EVENT_STATUSES),
    outcome: z.string().nullable().describe('what processing did; for a rejected event, why'),
    accountId: z.string().nullable(),
    objectId: z.string().nullable(),
    attempts: z.number().int().describe('deliveries and replays'),
    createdAt: timestampSchema.describe("the event's `created` time at Stripe"),
    receivedAt: timestampSchema,
    processedAt: timestampSchema.nullable(),
  })
  .meta({ id: 'StripeEventSummary' });

export const stripeEventListSchema = z
  .object({ items: z.array(stripeEventSummarySchema), total: z.number().int() })
  .meta({ id: 'StripeEventList' });

export const replayResultSchema = z
  .object({
    eventId: z.string(),
    type: z.string(),
    status: z.enum(APPLIED_STATUSES).describe("the event's status now"),
    outcome: z.string(),
    accountId: z.string().nullable(),
    replayId: z.string().describe('the StripeEventReplay row: who replayed it, why, the result'),
  })
  .meta({ id: 'StripeEventReplayResult' });

export const stripeEventSummarySelect = {
  id: true,
  type: true,
  status: true,
  outcome: true,
  accountId: true,
  objectId: true,
  attempts: true,
  createdAt: true,
  receivedAt: true,
  processedAt: true,
} as const;

export function eventRoutes(app: FastifyInstance, deps: EventRouteDeps) {
  const auth = { scopes: ['admin'] as const satisfies Scope[] };

  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.get(
    '/admin/v1/events',
    {
      config: auth,
      schema: {
        tags: ['admin'],
        operationId: 'listEvents',
        summary: 'Stripe events by status (rejected unless `status` is given), oldest first',
        querystring: listEventsQuerySchema,
        response: {
          200: json(stripeEventListSchema, 'The events'),
          ...errorResponses({ auth: true, invalid: 'status or limit out of range, or an unknown parameter' }),
        },
      },
    },
    async (request) => {
      const { status = 'rejected', limit = 50 } = request.query;
      const where = { status };
      const [items, total] = await Promise.all([
        deps.db.stripeEventLog.findMany({
          where,
          select: stripeEventSummarySelect,
          orderBy: [{ receivedAt: 'asc' }, { id: 'asc' }],
          take: limit,
        }),
        deps.db.stripeEventLog.count({ where }),
      ]);
      return { items, total };
    },
  );

  routes.post(
    '/admin/v1/events/:eventId/replay',
    {
      config: auth,
      schema: {
        tags: ['admin'],
        operationId: 'replayEvent',
        summary: 'Apply a rejected Stripe event again, after a fix (who and why are recorded)',
        params: eventParamsSchema,
        body: replayBodySchema,
        response: {
          200: json(
            replayResultSchema,
            'Applied: the event is processed (or ignored, orphan, stale, unresolved) now',
          ),
          ...errorResponses(
            {
              auth: true,
              body: true,
              pathParams: true,
              invalid: 'the event id breaks its pattern, or the body lacks who does it and why',
            },
            {
              404: errorResponse('No event with this id'),
              409: errorResponse('The event is not rejected, or a concurrent replay applied it'),
              422: errorResponse('The event still cannot be processed: it stays rejected, with the reason'),
              503: errorResponse(
                'PostgreSQL, Temporal or the Stripe API is unavailable: the event stays rejected',
                RETRY_AFTER,
              ),
            },
          ),
        },
      },
    },
    async (request, reply) => {
      const params = request.params;
      const body = request.body;
      let outcome;
      try {
        outcome = await replayRejectedEvent(deps, params.eventId, body);
      } catch (error) {
        const dependency = unavailableDependency(error);
        if (!dependency) throw error;
        void reply.header('retry-after', '30');
        return sendError(reply, 503, {
          error: 'unavailable',
          message: `${dependency} is unavailable; the event stays rejected: replay it again later`,
        });
      }
      const conflict = (message: string) => sendError(reply, 409, { error: 'conflict', message });
      switch (outcome.kind) {
        case 'unknown':
          return notFound(reply, `unknown event ${params.eventId}`);
        case 'not_rejected':
          return conflict(
            `event ${params.eventId} is ${outcome.status}, not rejected: only rejected events are replayed`,
          );
        case 'concurrent':
          return conflict(`event ${params.eventId} was applied by a concurrent replay`);
        case 'still_rejected':
          request.log.warn(
            { eventId: params.eventId, reason: outcome.result.outcome },
            'replayed event still rejected',
          );
          return sendError(reply, 422, {
            error: 'unprocessable_event',
            message: `event ${params.eventId} still cannot be processed and stays rejected: ${outcome.result.outcome}`,
          });
        case 'applied': {
          const { result } = outcome;
          request.log.info({ eventId: result.eventId, status: result.status }, 'rejected event replayed');
          return {
            eventId: result.eventId,
            type: result.type,
            status: result.status,
            outcome: result.outcome,
            accountId: result.accountId,
            replayId: outcome.replayId,
          };
        }
      }
    },
  );
}
