// The HTTP service as the tests use it: the production app builder (buildServer) with the real
// routes on the real database and a Temporal client (time-skipping or dev server), driven with
// fastify's inject (no socket needed).
import { type Client } from '@temporalio/client';
import { inject } from 'vitest';
import { loadConfig, type Config } from '../../../src/platform/config.js';
import { type PrismaClient } from '../../../src/platform/database.js';
import { createLogger } from '../../../src/platform/logger.js';
import { buildPublicServer, buildServer } from '../../../src/api/app.js';
import { type EnforcementPolicy } from '../../../src/workflows/definitions.js';
import { db, testLadderClient, testPolicy } from './harness.js';

export const INTERNAL_TOKEN = 'internal-token-for-tests-0123456789';
export const ADMIN_TOKEN = 'admin-token-for-tests-0123456789abc';
export const CONTROLLER_TOKEN = 'controller-token-for-tests-01234567';
export const PORTAL_TOKEN = 'portal-token-for-tests-0123456789ab';
export const WEBHOOK_SECRET = 'whsec_test_primary_secret_0123456789';
export const WEBHOOK_SECRET_ROTATED = 'whsec_test_rotated_secret_9876543210';

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    DATABASE_URL: inject('databaseUrl'),
    INTERNAL_API_TOKEN: INTERNAL_TOKEN,
    ADMIN_TOKEN,
    CONTROLLER_API_TOKEN: CONTROLLER_TOKEN,
    PORTAL_API_TOKEN: PORTAL_TOKEN,
    STRIPE_WEBHOOK_SECRET: `${WEBHOOK_SECRET},${WEBHOOK_SECRET_ROTATED}`,
    LOG_LEVEL: 'silent',
    ...overrides,
  });
}

export function buildTestApp(options: {
  client: Client;
  taskQueue: string;
  policy?: EnforcementPolicy;
  env?: Record<string, string>;
  /** Another database client for the app (e.g. through a proxy the test can cut). */
  db?: PrismaClient;
  rpcTimeoutMs?: number;
  /** The public listener (webhook and /healthz only) instead of the internal one. */
  listener?: 'internal' | 'public';
}) {
  const config = testConfig({ TEMPORAL_TASK_QUEUE: options.taskQueue, ...options.env });
  const policy = options.policy ?? testPolicy();
  const build = options.listener === 'public' ? buildPublicServer : buildServer;
  const app = build({
    config: { ...config, policy },
    db: options.db ?? db(),
    temporal: options.client,
    logger: createLogger('silent'),
    // Notifications on the ladder's own queue (the test worker serves no notification queues),
    // no custom search attributes (the time-skipping server cannot register them).
    ladder: testLadderClient(options.client, options.taskQueue, {
      policy,
      ...(options.rpcTimeoutMs ? { rpcTimeoutMs: options.rpcTimeoutMs } : {}),
    }),
  });
  return { app, config: { ...config, policy } };
}

export const internalAuth = { authorization: `Bearer ${INTERNAL_TOKEN}` };
export const adminAuth = { authorization: `Bearer ${ADMIN_TOKEN}` };
export const controllerAuth = { authorization: `Bearer ${CONTROLLER_TOKEN}` };
export const portalAuth = { authorization: `Bearer ${PORTAL_TOKEN}` };
