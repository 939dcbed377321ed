# The worker and the HTTP service (same image; docker-compose.yml picks the command).
FROM node:20-bookworm-slim

WORKDIR /app

# Dependencies first, so a code change does not reinstall them. Install scripts are skipped:
# nothing here needs one, and @prisma/engines' would download native engines from
# binaries.prisma.sh (the project uses Prisma's JS engine, see prisma.config.ts).
# Runtime dependencies only: tsx runs the TypeScript, the prisma CLI applies migrations (the
# compose `migrate` service); test and lint tools stay out of the image.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

COPY . .

# The schema's env("DATABASE_URL") must resolve for Prisma 6 to pick its JS engine; the client
# connects with the real URL at run time through @prisma/adapter-pg.
RUN DATABASE_URL=postgresql://generate@localhost/generate npx prisma generate

ENV NODE_ENV=production
USER node
# Both processes shut down gracefully on SIGTERM (the worker: stop polling, finish activities).
STOPSIGNAL SIGTERM

# Default: the worker. The HTTP service: node --import tsx src/api/main.ts
# (--max-old-space-size: see WORKER_NODE_FLAGS in src/platform/temporal/worker-factory.ts)
CMD ["node", "--max-old-space-size=256", "--import", "tsx", "src/worker.ts"]
