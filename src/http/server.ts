import { type Client } from '@temporalio/client';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { type Config } from '../config/env.js';
import { type PrismaClient } from '../db/client.js';
import { type Logger } from '../logger.js';
import { healthRoutes } from './routes/health.js';

export interface HttpDeps {
  config: Config;
  db: PrismaClient;
  temporal: Client;
  logger: Logger;
}

/** The HTTP service: one process, one module of routes per surface. */
export function buildServer(deps: HttpDeps): FastifyInstance {
  const loggerInstance: FastifyBaseLogger = deps.logger;
  const app = Fastify({
    loggerInstance,
    bodyLimit: 1024 * 1024,
  });
  healthRoutes(app, {
    db: deps.db,
    temporal: deps.temporal,
    namespace: deps.config.env.TEMPORAL_NAMESPACE,
    taskQueue: deps.config.env.TEMPORAL_TASK_QUEUE,
  });
  return app;
}
