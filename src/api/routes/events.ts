// The admin API for Stripe events (ADMIN_TOKEN): find the events the service rejected (their
// content could not be processed by the code deployed then) and replay one after the fix. The
// replay goes through the webhook's own ingest (src/webhook/replay.ts); who asked and why is
// recorded with its result.
import { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import { type PrismaClient } from '../../platform/database.js';
import { adminInputSchema } from '../../accounts/admin-update-schemas.js';
import { unavailableDependency } from '../../webhook/dependency-errors.js';
import { type StripeEventIngest } from '../../webhook/ingest.js';
import { replayRejectedEvent } from '../../webhook/replay.js';
import { type Scope } from '../auth.js';
import { notFound, parse, type ErrorResponse } from '../validation.js';

export interface EventRouteDeps {
  db: PrismaClient;
  ingest: StripeEventIngest;
}

export const STRIPE_EVENT_STATUSES = [
  'received',
  'processed',
  'ignored',
  'orphan',
  'stale',
  'failed',
  'rejected',
] as const;

// At most 100 characters, like every path parameter (a longer one is a 414 before routing).
const EVENT_ID_RULE = 'expected a Stripe event id: evt_ and 1 to 96 of A-Z a-z 0-9 _';
export const eventIdSchema = z
  .string({ message: EVENT_ID_RULE })
  .regex(/^evt_[A-Za-z0-9_]{1,96}$/, EVENT_ID_RULE)
  .describe('a Stripe event id (`^evt_[A-Za-z0-9_]{1,96}$`)');

export const eventParamsSchema = z.object({ eventId: eventIdSchema }).strict();

export const listEventsQuerySchema = z
  .object({
    status: z.enum(STRIPE_EVENT_STATUSES).default('rejected').describe('default: rejected'),
    limit: z.coerce.number().int().min(1).max(500).default(50),
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
    createdAt: z.string().describe("the event's `created` time at Stripe"),
    receivedAt: z.string(),
    processedAt: z.string().nullable(),
  })
  .meta({ id: 'StripeEventSummary' });

export const stripeEventListSchema = z
  .object({ items: z.array(stripeEventSummarySchema), total: z.number().int() })
  .meta({ id: 'StripeEventList' });

export const replayResultSchema = z
  .object({
    eventId: z.string(),
    type: z.string(),
    status: z.enum(['processed', 'ignored', 'orphan', 'stale']).describe("the event's status now"),
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

  app.get('/admin/v1/events', { config: auth }, async (request, reply) => {
    const query = parse(reply, 'query', listEventsQuerySchema, request.query);
    if (!query) return reply;
    const where = { status: query.status };
    const [items, total] = await Promise.all([
      deps.db.stripeEventLog.findMany({
        where,
        select: stripeEventSummarySelect,
        orderBy: [{ receivedAt: 'asc' }, { id: 'asc' }],
        take: query.limit,
      }),
      deps.db.stripeEventLog.count({ where }),
    ]);
    return { items, total };
  });

  app.post('/admin/v1/events/:eventId/replay', { config: auth }, async (request, reply) => {
    const params = parse(reply, 'params', eventParamsSchema, request.params);
    if (!params) return reply;
    const body = parse(reply, 'body', replayBodySchema, request.body);
    if (!body) return reply;
    let outcome;
    try {
      outcome = await replayRejectedEvent(deps, params.eventId, body);
    } catch (error) {
      const dependency = unavailableDependency(error);
      if (!dependency) throw error;
      return reply
        .code(503)
        .header('retry-after', '30')
        .send({
          error: 'unavailable',
          message: `${dependency} is unavailable; the event stays rejected: replay it again later`,
        } satisfies ErrorResponse);
    }
    const conflict = (message: string) =>
      reply.code(409).send({ error: 'conflict', message } satisfies ErrorResponse);
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
        return reply.code(422).send({
          error: 'unprocessable_event',
          message: `event ${params.eventId} still cannot be processed and stays rejected: ${outcome.result.outcome}`,
        } satisfies ErrorResponse);
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
  });
}
