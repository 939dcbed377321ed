import { type Client } from '@temporalio/client';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type Config } from '../platform/config.js';
import { type PrismaClient } from '../platform/database.js';
import { type Logger } from '../platform/logger.js';
import { createLadderClient, type LadderClient } from '../ladder/client.js';
import { type SweepingStripeEventIngest } from '../webhook/ingest.js';
import { ingestFromConfig } from '../webhook/ingest-from-config.js';
import { registry } from '../platform/observability/metrics.js';
import { stalenessThresholds } from '../platform/observability/staleness-service.js';
import { accountRoutes } from './routes/accounts.js';
import { healthRoutes, healthzSchema } from './routes/health.js';
import { stripeWebhookRoutes } from '../webhook/route.js';
import { adminRoutes } from './routes/admin.js';
import { adminPolicyRoutes } from './routes/admin-policy.js';
import { eventRoutes } from './routes/events.js';
import { announcementRoutes } from './routes/announcements.js';
import { gateRoutes } from './routes/gates.js';
import { openApiRoute, swaggerOptions } from './openapi.js';
import { errorResponses } from './contract.js';
import { authenticate, type ScopeTokens } from './auth.js';
import { createAuthFailureLimiter, registerClientRateLimit } from './rate-limits.js';
import { clientErrorHandler, frameworkErrors, genReqId, installErrorHandling } from './error-responses.js';
import { notificationTaskQueuesFor } from '../workflows/definitions.js';

export interface HttpDeps {
  config: Config;
  db: PrismaClient;
  temporal: Client;
  logger: Logger;
  /** Defaults to one on `temporal` with the configured task queue and policy. */
  ladder?: LadderClient;
}

/** Stripe sends at most a few hundred KB; anything near this is not a Stripe event. */
export const BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * Slow or idle connections cannot hold the service: a request must arrive whole within 30 s
 * (408), headers within 10 s, and an idle keep-alive connection is closed after 5 s (below the
 * 60 s of common proxies, so the proxy never reuses a connection we are closing).
 */
export const TIMEOUTS = { requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 };

/** What both listeners share: one ladder client and one webhook ingest per process. */
function shared(deps: HttpDeps) {
  const { env } = deps.config;
  const ladder =
    deps.ladder ??
    createLadderClient({
      client: deps.temporal,
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      policy: deps.config.policy,
      notificationTaskQueues: notificationTaskQueuesFor(env.TEMPORAL_TASK_QUEUE),
    });
  const webhook = {
    secrets: env.STRIPE_WEBHOOK_SECRET,
    logger: deps.logger,
    // One count of failed authentications per process: wrong tokens and forged signatures alike.
    authFailures: createAuthFailureLimiter({ perMinute: env.AUTH_FAILURES_PER_MINUTE }),
    ingest: ingestFromConfig({ ...deps, ladder }),
  };
  return { ladder, webhook };
}

function baseApp(deps: HttpDeps): FastifyInstance {
  const loggerInstance: FastifyBaseLogger = deps.logger;
  const app = Fastify({
    loggerInstance,
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId,
    frameworkErrors,
    clientErrorHandler,
    requestTimeout: TIMEOUTS.requestTimeout,
    keepAliveTimeout: TIMEOUTS.keepAliveTimeout,
    // How often Node looks for requests past those deadlines (its default, 30 s, would let a
    // slow sender hold a connection for up to 40 s).
    http: { connectionsCheckingInterval: 2_000 },
  });
  app.server.headersTimeout = TIMEOUTS.headersTimeout;
  // Every route's zod schemas validate its request parts and serialise its answers.
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandling(app);
  // The API speaks JSON only: anything else is a 415, not a string for the schemas to reject.
  app.removeContentTypeParser('text/plain');
  return app;
}

/** How often the webhook's queued ops alerts are checked for a failed hand-over to Temporal. */
export const ALERT_SWEEP_INTERVAL_MS = 60_000;

/**
 * Ops alerts the webhook queued but could not hand to Temporal after the commit (it was
 * unreachable right then, or the process stopped) are handed over again, once a minute, by the
 * internal listener while it runs. Several instances may sweep at once: Temporal starts one
 * workflow per alert key.
 */
function sweepQueuedAlerts(app: FastifyInstance, ingest: SweepingStripeEventIngest, logger: Logger) {
  let timer: NodeJS.Timeout | undefined;
  app.addHook('onReady', () => {
    timer = setInterval(() => {
      ingest
        .sweepQueuedAlerts()
        .catch((error: unknown) =>
          logger.warn(
            { err: error instanceof Error ? error.message : String(error) },
            'ops alert sweep failed',
          ),
        );
    }, ALERT_SWEEP_INTERVAL_MS);
    timer.unref();
  });
  app.addHook('onClose', () => clearInterval(timer));
}

/**
 * The HTTP service on PORT: every route (the webhook too, for local use and the CLI). Never
 * published to the internet: the main API, the controller, the Portal and operators reach it on
 * a private network.
 */
export function buildServer(deps: HttpDeps): FastifyInstance {
  const app = baseApp(deps);
  const { env } = deps.config;
  const { ladder, webhook } = shared(deps);
  sweepQueuedAlerts(app, webhook.ingest, deps.logger);
  app.addHook('onRequest', authenticate(scopeTokens(env), webhook.authFailures));
  // First, so that it sees every route registered after it (its onRoute hook collects them).
  void app.register(swagger, swaggerOptions);
  // Registered before the routes, so the routes below (in a child context) get its hook.
  void registerClientRateLimit(app, env.RATE_LIMIT_PER_MINUTE);
  void app.register((routes, _options, done) => {
    healthRoutes(routes, {
      db: deps.db,
      temporal: deps.temporal,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      staleness: stalenessThresholds(deps.config),
    });
    stripeWebhookRoutes(routes, webhook);
    accountRoutes(routes, { db: deps.db, ladder, policy: deps.config.policy });
    gateRoutes(routes, { db: deps.db, dryRun: deps.config.policy.dryRun, databaseUrl: env.DATABASE_URL });
    announcementRoutes(routes, {
      db: deps.db,
      policy: deps.config.policy,
      portalUrl: env.PORTAL_URL,
      ladder,
    });
    adminRoutes(routes, { db: deps.db, ladder, policy: deps.config.policy });
    adminPolicyRoutes(routes, {
      temporal: deps.temporal,
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      policy: deps.config.policy,
    });
    eventRoutes(routes, { db: deps.db, ingest: webhook.ingest });
    openApiRoute(routes);
    routes.get(
      '/metrics',
      {
        logLevel: 'silent',
        config: { rateLimit: false },
        schema: {
          tags: ['ops'],
          operationId: 'metrics',
          summary: 'Prometheus metrics',
          response: {
            200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } },
            ...errorResponses({ limited: false }),
          },
        },
      },
      async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()),
    );
    done();
  });
  return app;
}

/** Each scope's tokens; a scope left unset has none (its callers use the internal token). */
function scopeTokens(env: Config['env']): ScopeTokens {
  return {
    internal: env.INTERNAL_API_TOKEN,
    admin: env.ADMIN_TOKEN,
    controller: env.CONTROLLER_API_TOKEN ?? [],
    portal: env.PORTAL_API_TOKEN ?? [],
  };
}

/**
 * The listener on PUBLIC_PORT, the one address Stripe must reach: POST /webhooks/stripe and
 * GET /healthz, nothing else (no readiness details, metrics, OpenAPI, tokens).
 */
export function buildPublicServer(deps: HttpDeps): FastifyInstance {
  const app = baseApp(deps);
  app.get('/healthz', { logLevel: 'silent', config: { rateLimit: false }, schema: healthzSchema }, () => ({
    status: 'ok' as const,
  }));
  stripeWebhookRoutes(app, shared(deps).webhook);
  return app;
}
