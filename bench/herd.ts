// Herd: N accounts whose payments failed at the same moment reach every rung at the same moment.
// Time-skipping server (72 h pass in an instant), a worker in this process with the real
// activities and the real Resend and Discord adapters, wired as activityDepsFromConfig wires
// them (the same token-bucket limiters at EMAIL_RATE_PER_SECOND / DISCORD_RATE_PER_SECOND),
// talking to local stand-ins that record when each request arrived. Servers: recording adapter.
// Per rung: wall time until every account's rung actions are settled, the request rates the
// stand-ins saw, and what became of the notifications (sent, failed and alerted).
import fs from 'node:fs';
import { Worker } from '@temporalio/worker';
import { recordingActivityDeps } from '../src/activities/deps.js';
import { createActivities } from '../src/activities/index.js';
import { createDiscordChatNotifier } from '../src/adapters/discord/chat.js';
import { createRateLimiter } from '../src/adapters/rate-limit.js';
import { createResendEmailSender } from '../src/adapters/resend/email.js';
import { loadConfig } from '../src/config/env.js';
import { createPrisma } from '../src/db/client.js';
import { createLogger } from '../src/logger.js';
import { workflowsPath } from '../src/temporal/worker.js';
import { type billingEnforcementWorkflow } from '../src/workflows/billing-enforcement.js';
import {
  paymentFailedSignal,
  statusQuery,
  workflowIdFor,
  type PaymentFailed,
} from '../src/workflows/definitions.js';
import { startDiscordStandin } from '../test/support/standins/discord.js';
import { type RecordedRequest } from '../test/support/standins/http.js';
import { startResendStandin } from '../test/support/standins/resend.js';
import {
  ADMIN_TOKEN,
  closedLoop,
  INTERNAL_TOKEN,
  progress,
  round,
  startPostgres,
  startTimeSkippingServer,
  tempDir,
  waitFor,
  WEBHOOK_SECRET,
} from './lib.js';

const BILLING_WEBHOOK = '111111111111111111';
const OPS_WEBHOOK = '222222222222222222';

export interface HerdOptions {
  accounts: number;
  /** Multiplies the configured notification rates (1 = as configured). */
  rateScale: number;
  phaseTimeoutMs: number;
}

export const herdDefaults = (quick: boolean): HerdOptions =>
  quick
    ? { accounts: 200, rateScale: 1, phaseTimeoutMs: 5 * 60_000 }
    : { accounts: 2000, rateScale: 1, phaseTimeoutMs: 30 * 60_000 };

/** Requests per second the stand-in saw: overall, and the busiest 10 s window. */
function rates(requests: RecordedRequest[], from: number) {
  const at = requests.filter((r) => r.at >= from).map((r) => r.at);
  if (at.length < 2) return { requests: at.length, overallPerSecond: null, peak10sPerSecond: null };
  let peak = 0;
  let j = 0;
  for (let i = 0; i < at.length; i++) {
    while (at[i]! - at[j]! >= 10_000) j++;
    peak = Math.max(peak, i - j + 1);
  }
  return {
    requests: at.length,
    overallPerSecond: round(at.length / ((at.at(-1)! - at[0]!) / 1000), 2),
    peak10sPerSecond: round(peak / 10, 2),
  };
}

export async function runHerd(options: HerdOptions) {
  const { accounts } = options;
  const tmp = tempDir('billing-bench-herd-');
  progress('herd: starting a throwaway PostgreSQL, the time-skipping server and the provider stand-ins');
  const pg = await startPostgres(tmp);
  const env = await startTimeSkippingServer();
  const resend = await startResendStandin();
  const discord = await startDiscordStandin();
  // The stand-ins time their requests from their own start.
  const standinsStarted = Date.now();
  const db = createPrisma(pg.databaseUrl);
  const config = loadConfig({
    DATABASE_URL: pg.databaseUrl,
    INTERNAL_API_TOKEN: INTERNAL_TOKEN,
    ADMIN_TOKEN,
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    ENFORCEMENT_MODE: 'enforce',
  });
  const emailRate = config.env.EMAIL_RATE_PER_SECOND * options.rateScale;
  const discordRate = config.env.DISCORD_RATE_PER_SECOND * options.rateScale;
  const logger = createLogger('silent');
  const taskQueue = 'billing-herd';
  try {
    progress(`herd: seeding ${accounts} accounts (email, one open invoice, one running server)`);
    for (let start = 0; start < accounts; start += 2000) {
      const ids = Array.from({ length: Math.min(2000, accounts - start) }, (_, i) => start + i);
      await db.billingAccount.createMany({
        data: ids.map((i) => ({
          id: `herd_${i}`,
          stripeCustomerId: `cus_herd_${i}`,
          email: `herd_${i}@customer.example.test`,
          name: 'Herd Customer',
        })),
      });
      await db.invoice.createMany({
        data: ids.map((i) => ({
          id: `in_herd_${i}`,
          accountId: `herd_${i}`,
          status: 'open',
          amountDue: 2500,
          currency: 'usd',
          lastEventCreatedAt: new Date(),
        })),
      });
      await db.server.createMany({
        data: ids.map((i) => ({
          accountId: `herd_${i}`,
          vmid: 300_000 + i,
          node: 'pve1',
          powerState: 'running',
        })),
      });
    }
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath,
      activities: createActivities({
        ...recordingActivityDeps(db, logger, {
          temporalUiUrl: config.env.TEMPORAL_UI_URL,
          temporalNamespace: 'default',
          portalUrl: config.env.PORTAL_URL,
        }),
        email: createResendEmailSender({
          apiKey: resend.apiKey,
          from: config.env.EMAIL_FROM,
          baseUrl: resend.url,
          limiter: createRateLimiter({ perSecond: emailRate }),
          logger,
        }),
        chat: createDiscordChatNotifier({
          billing: discord.webhookUrl(BILLING_WEBHOOK),
          ops: discord.webhookUrl(OPS_WEBHOOK),
          apiBaseUrl: discord.api,
          perSecond: discordRate,
        }),
      }),
    });

    const phases: Record<string, unknown> = {};
    await worker.runUntil(async () => {
      const ladderStart = await env.currentTimeMs();
      progress(`herd: starting ${accounts} ladders at once`);
      const started = await closedLoop(accounts, 32, (i) =>
        env.client.workflow
          .signalWithStart<typeof billingEnforcementWorkflow, [PaymentFailed]>('billingEnforcementWorkflow', {
            workflowId: workflowIdFor(`herd_${i}`),
            taskQueue,
            args: [{ accountId: `herd_${i}`, policy: config.policy, publishSearchAttributes: false }],
            signal: paymentFailedSignal,
            signalArgs: [
              {
                invoiceId: `in_herd_${i}`,
                eventId: `evt_herd_${i}`,
                at: new Date().toISOString(),
                amountDue: 2500,
                currency: 'usd',
              },
            ],
          })
          .then(() => true),
      );
      progress(`herd: ${started.ok} started in ${started.seconds} s`);

      /** A rung is done when every account has its transition and no notification is pending. */
      const phase = async (name: string, state: string, template: string, since: number) => {
        const phaseStart = Date.now();
        const from = Date.now() - standinsStarted;
        let last = 0;
        const done = await waitFor(
          async () => {
            const [reached, pending] = await Promise.all([
              db.billingEnforcementEvent.count({ where: { kind: `transition:${state}` } }),
              db.notification.count({ where: { status: 'pending' } }),
            ]);
            const held = await db.notification.count({
              where: { template: 'Circuit breaker: suspension held' },
            });
            return { reached: reached + (state === 'suspended' ? held : 0), pending };
          },
          (v) => v.reached >= accounts && v.pending === 0,
          {
            timeoutMs: options.phaseTimeoutMs,
            everyMs: 1000,
            onPoll: (v) => {
              if (Date.now() - last > 15_000) {
                last = Date.now();
                progress(
                  `herd: ${name}: ${v.reached} of ${accounts} reached, ${v.pending} notifications pending`,
                );
              }
            },
          },
        );
        const seconds = round((Date.now() - phaseStart) / 1000, 1);
        const emails = await db.notification.groupBy({
          by: ['status'],
          where: { channel: 'email', template },
          _count: true,
        });
        const posts = await db.notification.groupBy({
          by: ['channel', 'status'],
          where: { channel: { in: ['discord_billing', 'discord_ops'] }, createdAt: { gte: new Date(since) } },
          _count: true,
        });
        const result = {
          wallSeconds: seconds,
          complete: done.met,
          emails: Object.fromEntries(emails.map((g) => [g.status, g._count])),
          discordSinceRungStart: Object.fromEntries(posts.map((g) => [`${g.channel}/${g.status}`, g._count])),
          resendRequests: rates(resend.requests, from),
          discordBillingRequests: rates(
            discord.requests.filter((r) => r.path.includes(BILLING_WEBHOOK)),
            from,
          ),
          discordOpsRequests: rates(
            discord.requests.filter((r) => r.path.includes(OPS_WEBHOOK)),
            from,
          ),
        };
        progress(`herd: ${name} settled in ${seconds} s: ${JSON.stringify(result.emails)} emails`);
        return result;
      };

      phases.overdue = await phase('overdue', 'overdue', 'payment_failed', Date.now() - 60_000);
      // To just past the rung, not beyond: once the rung's activities run, the test server's
      // clock only moves in real time, so a sleep further out would not return before they end.
      const skipTo = async (rung: string, atMs: number) => {
        progress(`herd: skipping to the ${rung}`);
        void env.sleep(Math.max(0, atMs - (await env.currentTimeMs()) + 1000)).catch(() => undefined);
      };
      let since = Date.now();
      await skipTo('final warning', ladderStart + config.policy.finalWarningAfterMs);
      phases.finalWarning = await phase('final warning', 'final_warning', 'final_warning', since);
      since = Date.now();
      await skipTo('suspension', ladderStart + config.policy.suspendAfterMs);
      phases.suspension = await phase('suspension', 'suspended', 'suspended', since);

      const statuses = await closedLoop(accounts, 32, async (i) => {
        const s = await env.client.workflow.getHandle(workflowIdFor(`herd_${i}`)).query(statusQuery);
        return s.state === 'suspended';
      });
      const held = accounts - statuses.ok;
      phases.suspensionHeld = held;
      phases.suspended = statuses.ok;
      phases.breakerThreshold = config.policy.suspensionBreaker.threshold;
    });

    const failedNotifications = await db.notification.count({ where: { status: 'failed' } });
    const byTemplate = await db.notification.groupBy({ by: ['channel', 'status'], _count: true });
    return {
      accounts,
      emailRatePerSecond: emailRate,
      discordRatePerSecondPerWebhook: discordRate,
      adapters:
        'Resend and Discord adapters with their limiters, against local stand-ins; recording server control',
      ...phases,
      notificationsFailedTotal: failedNotifications,
      notificationsByChannelAndStatus: Object.fromEntries(
        byTemplate.map((g) => [`${g.channel}/${g.status}`, g._count]),
      ),
      // Workflow tasks never failed if every ladder answered its status query above.
    };
  } finally {
    await db.$disconnect();
    await resend.close();
    await discord.close();
    await env.teardown();
    await pg.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
