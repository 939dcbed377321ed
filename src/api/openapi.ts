// The OpenAPI 3.1 document of the whole HTTP service, built from the same zod schemas the routes
// validate with (zod 4's toJSONSchema; JSON Schema 2020-12 is OpenAPI 3.1's dialect).
// The webhook (raw Stripe events), health and metrics routes have no zod body schema: they are
// described by hand.
import { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  accountDetailSchema,
  accountListSchema,
  accountParamsSchema,
  ADMIN_UPDATE_ROUTES,
  auditEventSchema,
  auditQuerySchema,
  listAccountsQuerySchema,
  refusedDeleteBodySchema,
  serverParamsSchema,
} from './routes/admin.js';
import { announcementsQuerySchema, announcementsResponseSchema } from './routes/announcements.js';
import { gateCheckBodySchema, gateDecisionSchema, vmidParamsSchema } from './routes/gates.js';
import { accountSyncSchema } from '../accounts/sync-account.js';
import { billingViewSchema, syncResultSchema } from './routes/accounts.js';
import { errorResponseSchema } from './validation.js';
import {
  eventParamsSchema,
  listEventsQuerySchema,
  replayBodySchema,
  replayResultSchema,
  stripeEventListSchema,
} from './routes/events.js';

type JsonSchema = Record<string, unknown>;
type Io = 'input' | 'output';

/** Converts one schema; named parts (`.meta({ id })`) go to components and are referenced. */
function converter() {
  const components: Record<string, JsonSchema> = {};
  const rewrite = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (node && typeof node === 'object') {
      const out: JsonSchema = {};
      for (const [key, value] of Object.entries(node)) {
        if (key === '$schema' || key === '$defs') continue;
        out[key] =
          key === '$ref' && typeof value === 'string'
            ? value.replace(/^#\/\$defs\//, '#/components/schemas/')
            : rewrite(value);
      }
      return out;
    }
    return node;
  };
  const convert = (schema: z.ZodType, io: Io): JsonSchema => {
    const json = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema & {
      $defs?: Record<string, JsonSchema>;
    };
    for (const [id, def] of Object.entries(json.$defs ?? {})) components[id] ??= rewrite(def) as JsonSchema;
    return rewrite(json) as JsonSchema;
  };
  return { components, convert };
}

/** An object schema of path or query parameters → OpenAPI parameter objects. */
function parameters(
  convert: (s: z.ZodType, io: Io) => JsonSchema,
  where: 'path' | 'query',
  schema: z.ZodType,
) {
  const json = convert(schema, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || (json.required ?? []).includes(name),
    ...(typeof property.description === 'string' ? { description: property.description } : {}),
    schema: property,
  }));
}

const json = (schema: JsonSchema, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

export function buildOpenApiDocument(): Record<string, unknown> {
  const { components, convert } = converter();
  const error = convert(errorResponseSchema, 'output');
  const errors = {
    400: json(error, 'Invalid input; `fields` names each bad field'),
    401: json(error, 'Missing or invalid bearer token'),
    403: json(error, 'A token of a scope this route does not admit'),
    429: json(
      error,
      'Too many requests from this client, or too many failed authentications from its address; see Retry-After',
    ),
    404: json(error, 'Unknown account or server'),
  };
  const internal = [{ internalToken: [] }];
  const admin = [{ adminToken: [] }];
  const body = (schema: z.ZodType, description?: string) => ({
    required: true,
    ...(description ? { description } : {}),
    content: { 'application/json': { schema: convert(schema, 'input') } },
  });
  const accountPath = parameters(convert, 'path', accountParamsSchema);

  const updateParams = Object.fromEntries(
    Object.entries(ADMIN_UPDATE_ROUTES).map(([segment, { update, schema }]) => [
      `/admin/v1/accounts/{accountId}/${segment}`,
      {
        post: {
          tags: ['admin'],
          operationId: `admin_${update}`,
          summary: `Workflow update \`${update}\` (validated and audited by the workflow)`,
          security: admin,
          parameters: accountPath,
          requestBody: body(schema, 'who does it and why (both required)'),
          responses: {
            200: json(
              { type: 'object', properties: { accountId: {}, update: {}, status: {} } },
              "The workflow's status after the update",
            ),
            ...errors,
            404: json(error, 'Unknown account, or no running ladder for it'),
            409: json(error, "Rejected by the workflow's validator (e.g. already paused); nothing changed"),
          },
        },
      },
    ]),
  );

  const refusal = {
    tags: ['admin'],
    summary: 'Refused: this service never deletes servers or data (403, written to the audit log)',
    security: admin,
    requestBody: {
      required: false,
      content: { 'application/json': { schema: convert(refusedDeleteBodySchema, 'input') } },
    },
    responses: { 403: json(error, 'Always refused; audited as admin_delete_refused'), 401: errors[401] },
  };

  const paths: Record<string, unknown> = {
    '/healthz': {
      get: {
        tags: ['ops'],
        summary: 'The process is up (for systemd / compose restarts)',
        responses: { 200: json({ type: 'object', properties: { status: { const: 'ok' } } }, 'Up') },
      },
    },
    '/readyz': {
      get: {
        tags: ['ops'],
        summary: 'PostgreSQL and Temporal answer and a worker polls the task queue',
        responses: {
          200: json({ type: 'object' }, 'Ready, with each check'),
          503: json({ type: 'object' }, 'Not ready, with the failing checks'),
        },
      },
    },
    '/metrics': {
      get: {
        tags: ['ops'],
        summary: 'Prometheus metrics',
        responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': {} } } },
      },
    },
    '/openapi.json': {
      get: {
        tags: ['ops'],
        summary: 'This document',
        responses: { 200: json({ type: 'object' }, 'OpenAPI 3.1') },
      },
    },
    '/webhooks/stripe': {
      post: {
        tags: ['webhook'],
        summary: 'Stripe webhook: signature-verified, recorded, then applied (signal / start the ladder)',
        parameters: [{ name: 'Stripe-Signature', in: 'header', required: true, schema: { type: 'string' } }],
        requestBody: {
          required: true,
          description: 'A Stripe event, exactly as Stripe signed it (the raw bytes are verified)',
          content: { 'application/json': { schema: { type: 'object' } } },
        },
        responses: {
          200: json(
            {
              type: 'object',
              properties: {
                received: { const: true },
                status: { enum: ['processed', 'ignored', 'orphan', 'stale', 'rejected', 'duplicate'] },
                outcome: { type: 'string', description: 'what processing did, for operators' },
              },
            },
            'Recorded, and applied once (ignored types, unknown customers and stale events too); `rejected`: verified, but its content cannot be processed by this version — stored for a replay, alerted once',
          ),
          400: json(
            error,
            'Not a genuine, current Stripe delivery (signature, timestamp, not JSON); nothing written',
          ),
          413: json(error, 'Body over 1 MiB'),
          415: json(error, 'Not application/json'),
          500: json(error, 'Not applied (a bug on our side): Stripe retries'),
          503: json(
            error,
            'PostgreSQL, Temporal or the Stripe API unavailable: Stripe retries (Retry-After)',
          ),
        },
      },
    },
    '/v1/accounts/{accountId}': {
      put: {
        tags: ['internal'],
        summary: 'Create or update an account and its servers (idempotent)',
        security: internal,
        parameters: accountPath,
        requestBody: body(accountSyncSchema),
        responses: {
          200: json(convert(syncResultSchema, 'output'), 'Updated (or unchanged)'),
          201: json(convert(syncResultSchema, 'output'), 'Created'),
          ...errors,
          409: json(error, 'The Stripe customer or a server belongs to another account'),
        },
      },
    },
    '/v1/accounts/{accountId}/billing': {
      get: {
        tags: ['internal'],
        summary: "The account's billing state, timestamps, code and customer-facing message",
        security: internal,
        parameters: accountPath,
        responses: { 200: json(convert(billingViewSchema, 'output'), 'Billing view'), ...errors },
      },
    },
    '/v1/gates/check': {
      post: {
        tags: ['internal'],
        operationId: 'checkGate',
        summary: 'May the account (or the account of a server) do this action?',
        description:
          'Give exactly one of accountId and serverVmid. In dry-run mode (and for exempt accounts) every answer is allowed, with `wouldBe` saying what enforcement would have answered.',
        security: internal,
        requestBody: body(gateCheckBodySchema),
        responses: { 200: json(convert(gateDecisionSchema, 'output'), 'The decision'), ...errors },
      },
    },
    '/v1/servers/{vmid}/repair-allowed': {
      get: {
        tags: ['internal'],
        operationId: 'repairAllowed',
        summary: 'For the controller: may it repair (edge, DNS, proxy, restart) this server?',
        security: [{ controllerToken: [] }, ...internal],
        parameters: parameters(convert, 'path', vmidParamsSchema),
        responses: { 200: json(convert(gateDecisionSchema, 'output'), 'The decision'), ...errors },
      },
    },
    '/api/announcements': {
      get: {
        tags: ['internal'],
        operationId: 'announcements',
        summary: 'The billing announcement for the Portal (empty for an account in good standing)',
        security: [{ portalToken: [] }, ...internal],
        parameters: parameters(convert, 'query', announcementsQuerySchema),
        responses: { 200: json(convert(announcementsResponseSchema, 'output'), 'Announcements'), ...errors },
      },
    },
    '/admin/v1/accounts': {
      get: {
        tags: ['admin'],
        operationId: 'listAccounts',
        summary: 'Accounts in enforcement (every state but active unless `state` is given), paginated',
        security: admin,
        parameters: parameters(convert, 'query', listAccountsQuerySchema),
        responses: { 200: json(convert(accountListSchema, 'output'), 'One page'), ...errors },
      },
    },
    '/admin/v1/accounts/{accountId}': {
      get: {
        tags: ['admin'],
        operationId: 'getAccount',
        summary: "Database state, the workflow's status query and the audit trail",
        security: admin,
        parameters: accountPath,
        responses: { 200: json(convert(accountDetailSchema, 'output'), 'The account'), ...errors },
      },
      delete: { ...refusal, operationId: 'deleteAccountRefused', parameters: accountPath },
    },
    '/admin/v1/accounts/{accountId}/audit': {
      get: {
        tags: ['admin'],
        operationId: 'getAudit',
        summary: 'The audit trail (BillingEnforcementEvent), oldest first',
        security: admin,
        parameters: [...accountPath, ...parameters(convert, 'query', auditQuerySchema)],
        responses: {
          200: json(
            {
              type: 'object',
              properties: {
                accountId: { type: 'string' },
                events: { type: 'array', items: convert(auditEventSchema, 'output') },
              },
            },
            'Audit events',
          ),
          ...errors,
        },
      },
    },
    '/admin/v1/accounts/{accountId}/delete-data': {
      post: { ...refusal, operationId: 'deleteDataRefused', parameters: accountPath },
    },
    '/admin/v1/accounts/{accountId}/servers/{vmid}': {
      delete: {
        ...refusal,
        operationId: 'deleteAccountServerRefused',
        parameters: [...accountPath, ...parameters(convert, 'path', serverParamsSchema)],
      },
    },
    '/admin/v1/servers/{vmid}': {
      delete: {
        ...refusal,
        operationId: 'deleteServerRefused',
        parameters: parameters(convert, 'path', serverParamsSchema),
      },
    },
    '/admin/v1/events': {
      get: {
        tags: ['admin'],
        operationId: 'listStripeEvents',
        summary: 'Stripe events by status (default: rejected), oldest first',
        security: admin,
        parameters: parameters(convert, 'query', listEventsQuerySchema),
        responses: {
          200: json(convert(stripeEventListSchema, 'output'), 'Events'),
          400: errors[400],
          401: errors[401],
          403: errors[403],
        },
      },
    },
    '/admin/v1/events/{eventId}/replay': {
      post: {
        tags: ['admin'],
        operationId: 'replayStripeEvent',
        summary: 'Apply a rejected Stripe event again, through the webhook ingest (after a fix)',
        security: admin,
        parameters: parameters(convert, 'path', eventParamsSchema),
        requestBody: body(replayBodySchema, 'who replays it and why (both required; recorded)'),
        responses: {
          200: json(convert(replayResultSchema, 'output'), 'Applied: the event is no longer rejected'),
          ...errors,
          404: json(error, 'Unknown event; nothing changed'),
          409: json(error, 'The event is not rejected (or a concurrent replay applied it); nothing changed'),
          422: json(error, 'Still cannot be processed: stays rejected with the new reason (replay recorded)'),
          503: json(error, 'PostgreSQL or Temporal unavailable: stays rejected; replay again later'),
        },
      },
    },
    ...updateParams,
  };

  return {
    openapi: '3.1.0',
    info: {
      title: 'Billing enforcement',
      version: '0.1.0',
      description:
        'Gates, announcements and admin operations for billing enforcement. Each route admits the tokens of its scopes (internal, controller, portal, admin; a token of another scope gets 403).',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    paths,
    components: {
      schemas: components,
      securitySchemes: {
        internalToken: { type: 'http', scheme: 'bearer', description: 'INTERNAL_API_TOKEN' },
        adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN' },
        controllerToken: { type: 'http', scheme: 'bearer', description: 'CONTROLLER_API_TOKEN' },
        portalToken: { type: 'http', scheme: 'bearer', description: 'PORTAL_API_TOKEN' },
      },
    },
  };
}

export function openApiRoutes(app: FastifyInstance) {
  // Built once: the schemas are static, and the document is public (it holds no secrets).
  let document: Record<string, unknown> | undefined;
  app.get('/openapi.json', { logLevel: 'warn' }, () => (document ??= buildOpenApiDocument()));
}
