// The HTTP service as src/api/main.ts runs it, for the webhook benchmark: the same buildServer
// on the same configuration, plus BENCH_DB_POOL to size the PostgreSQL pool (main.ts uses
// DATABASE_POOL_MAX) and the ladder client passed in with search attributes published, as on a
// dev server or cluster.
import { loadConfigOrExit } from '../src/platform/config.js';
import { createPrisma } from '../src/platform/database.js';
import { buildServer } from '../src/api/app.js';
import { createLogger } from '../src/platform/logger.js';
import { connectClient } from '../src/platform/temporal/connection.js';
import { createLadderClient } from '../src/ladder/client.js';

const config = loadConfigOrExit();
const logger = createLogger(config.env.LOG_LEVEL, 'http');
const pool = Number(process.env.BENCH_DB_POOL ?? config.env.DATABASE_POOL_MAX);
const db = createPrisma(config.env.DATABASE_URL, { max: pool });
const temporal = await connectClient(config.env);
const app = buildServer({
  config,
  db,
  temporal,
  logger,
  ladder: createLadderClient({
    client: temporal,
    taskQueue: config.env.TEMPORAL_TASK_QUEUE,
    policy: config.policy,
    publishSearchAttributes: true,
  }),
});
const stop = async () => {
  await app.close();
  await temporal.connection.close();
  await db.$disconnect();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
await app.listen({ host: config.env.HOST, port: config.env.PORT });
