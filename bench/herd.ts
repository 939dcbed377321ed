// Herd: N accounts whose payments failed at the same moment reach every rung at the same moment.
// Time-skipping server (72 h pass in an instant); in this process, the workers src/worker.ts
// runs: the ladder worker with the real activities, and the notification queues' workers that
// take tasks no faster than EMAIL_RATE_PER_SECOND / DISCORD_RATE_PER_SECOND; the real Resend and
// Discord adapters (with their own limiters) talk to local stand-ins that record when each
// request arrived. Servers: recording adapter. Per rung: wall time until every transition is
// recorded and every notification the rung sends has settled, the request rates the stand-ins
// saw, and what became of the notifications (sent, or failed and alerted).
import fs from 'node:fs';
import { Worker } from '@temporalio/worker';
import { recordingActivityDeps } from '../src/activities/deps.js';
import { createActivities } from '../src/activities/index.js';
import { createDiscordChatNotifier } from '../src/adapters/discord/chat.js';
import { createRateLimiter } from '../src/adapters/rate-limit.js';
import { createResendEmailSender } from '../src/adapters/resend/email.js';
import { loadConfig } from '../src/platform/config.js';
import { createPrisma } from '../src/platform/database.js';
import { createLogger } from '../src/platform/logger.js';
import {
  createNotificationWorkers,
  runWorkers,
  workflowsPath,
} from '../src/platform/temporal/worker-factory.js';
import { type billingEnforcementWorkflow } from '../src/workflows/billing-enforcement.js';
import {
  notificationTaskQueuesFor,
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
  /** How many rungs to run: 1 overdue, 2 + final warning, 3 + suspension (default). */
  rungs?: number;
}

export const herdDefaults = (quick: boolean): HerdOptions =>
  quick
    ? // Small, and the rates ×5 so each rung's notifications fit in seconds; the figures still
      // show whether the stand-ins saw more than the (scaled) rates.
      { accounts: 30, rateScale: 5, phaseTimeoutMs: 5 * 60_000 }
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

/** The most requests the stand-in saw in any window of `windowMs`. */
function peakIn(requests: RecordedRequest[], windowMs: number): number {
  const at = requests.map((r) => r.at);
  let peak = 0;
  let j = 0;
  for (let i = 0; i < at.length; i++) {
    while (at[i]! - at[j]! >= windowMs) j++;
    peak = Math.max(peak, i - j + 1);
  }
  return peak;
}

export async function runHerd(options: HerdOptions) {
  const rungs = options.rungs ?? 3;
  const { accounts } = options;
  const tmp = tempDir('billing-bench-herd-');
  progress('herd: starting a throwaway PostgreSQL, the time-skipping server and the provider stand-ins');
  const pg = await startPostgres(tmp);
  const env = await startTimeSkippingServer();
  const resend = await startResendStandin();
  // Discord's per-channel limit as the stand-in enforces it: a message beyond 30 in any minute
  // (at the configured rate) is answered 429, and counted.
  const discord = await startDiscordStandin({
    rateLimit: { messages: Math.round(30 * options.rateScale), perMs: 60_000 },
  });
  // The stand-ins time their requests from their own start.
  const standinsStarted = Date.now();
  const billingPosted = () => discord.posted.filter((p) => p.webhookId === BILLING_WEBHOOK).length;
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
    const activities = createActivities({
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
    });
    // As src/worker.ts runs them: the ladder worker, and the notification queues' workers
    // that take tasks no faster than the providers' rates.
    const workers = [
      await Worker.create({ connection: env.nativeConnection, taskQueue, workflowsPath, activities }),
      ...(await createNotificationWorkers({
        connection: env.nativeConnection,
        namespace: 'default',
        taskQueue,
        activities,
        emailPerSecond: emailRate,
        discordPerSecond: discordRate,
      })),
    ];
    const running = runWorkers(workers);

    const phases: Record<string, unknown> = {};
    try {
      const ladderStart = await env.currentTimeMs();
      progress(`herd: starting ${accounts} ladders at once`);
      const started = await closedLoop(accounts, 32, (i) =>
        env.client.workflow
          .signalWithStart<typeof billingEnforcementWorkflow, [PaymentFailed]>('billingEnforcementWorkflow', {
            workflowId: workflowIdFor(`herd_${i}`),
            taskQueue,
            args: [
              {
                accountId: `herd_${i}`,
                policy: config.policy,
                publishSearchAttributes: false,
                notificationTaskQueues: notificationTaskQueuesFor(taskQueue),
              },
            ],
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

      /** Notifications a rung must settle: so many rows of this channel and template. */
      interface Expected {
        channel: 'email' | 'discord_billing' | 'discord_ops';
        template: string;
        count: number;
      }
      const SETTLED = ['sent', 'logged', 'failed'] as const;
      /**
       * A rung is done when its transitions are recorded and every notification it sends has
       * settled (sent, or failed and alerted). Queued notifications have no row until a
       * notification worker takes them, so the rows are counted against what the rung sends.
       */
      const phase = async (name: string, state: string, transitions: number, expected: Expected[]) => {
        const phaseStart = Date.now();
        const from = Date.now() - standinsStarted;
        let last = 0;
        const postedBefore = billingPosted();
        /** Seconds from the rung's start until each expected channel had settled. */
        const settledAfter: (number | null)[] = expected.map(() => null);
        const settledOf = (e: Expected) =>
          db.notification.count({
            where: { channel: e.channel, template: e.template, status: { in: [...SETTLED] } },
          });
        const done = await waitFor(
          async () => ({
            reached: await db.billingEnforcementEvent.count({ where: { kind: `transition:${state}` } }),
            settled: await Promise.all(expected.map(settledOf)),
            pending: await db.notification.count({ where: { status: 'pending' } }),
          }),
          (v) =>
            v.reached >= transitions && v.pending === 0 && v.settled.every((n, i) => n >= expected[i]!.count),
          {
            timeoutMs: options.phaseTimeoutMs,
            everyMs: 1000,
            onPoll: (v) => {
              v.settled.forEach((n, i) => {
                if (settledAfter[i] === null && n >= expected[i]!.count)
                  settledAfter[i] = round((Date.now() - phaseStart) / 1000, 1);
              });
              if (Date.now() - last > 15_000) {
                last = Date.now();
                progress(
                  `herd: ${name}: ${v.reached} of ${transitions} transitions; settled ${expected
                    .map((e, i) => `${e.channel} ${v.settled[i]}/${e.count}`)
                    .join(', ')}`,
                );
              }
            },
          },
        );
        const seconds = round((Date.now() - phaseStart) / 1000, 1);
        const outcomes: Record<string, Record<string, number>> = {};
        for (const e of expected) {
          const groups = await db.notification.groupBy({
            by: ['status'],
            where: { channel: e.channel, template: e.template },
            _count: true,
          });
          outcomes[`${e.channel}: ${e.template}`] = Object.fromEntries(
            groups.map((g) => [g.status, g._count]),
          );
        }
        const billingBodies = discord.requests
          .filter((r) => r.at >= from && r.path.includes(BILLING_WEBHOOK))
          .map((r) => (JSON.parse(r.body) as { embeds?: unknown[] }).embeds?.length ?? 0);
        const result = {
          wallSeconds: seconds,
          complete: done.met,
          transitions: done.value.reached,
          notifications: outcomes,
          settledAfterSeconds: Object.fromEntries(
            expected.map((e, i) => [`${e.channel}: ${e.template}`, settledAfter[i]]),
          ),
          // Billing posts go out in digests: messages, and embeds per message.
          discordBillingMessages: {
            messages: billingBodies.length,
            embeds: billingBodies.reduce((a, b) => a + b, 0),
            fullMessages: billingBodies.filter((n) => n === 10).length,
          },
          // Requests the stand-in refused with 429 (Discord's per-minute limit).
          discordBillingRefused: billingBodies.length - (billingPosted() - postedBefore),
          discordBillingPeak60sMessages: peakIn(
            discord.requests.filter((r) => r.at >= from && r.path.includes(BILLING_WEBHOOK)),
            60_000,
          ),
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
        progress(`herd: ${name} settled in ${seconds} s: ${JSON.stringify(outcomes)}`);
        return result;
      };
      const customer = (template: string, title: string, count: number): Expected[] => [
        { channel: 'email', template, count },
        { channel: 'discord_billing', template: title, count },
      ];

      phases.overdue = await phase(
        'overdue',
        'overdue',
        accounts,
        customer('payment_failed', 'Payment failed: account overdue', accounts),
      );
      // To just past the rung, not beyond: once the rung's activities run, the test server's
      // clock only moves in real time, so a sleep further out would not return before they end.
      const skipTo = async (rung: string, atMs: number) => {
        progress(`herd: skipping to the ${rung}`);
        void env.sleep(Math.max(0, atMs - (await env.currentTimeMs()) + 1000)).catch(() => undefined);
      };
      // Fewer rungs: a run at the real rates (each rung's emails alone take accounts / 2 s).
      if (rungs >= 2) {
        await skipTo('final warning', ladderStart + config.policy.finalWarningAfterMs);
        phases.finalWarning = await phase(
          'final warning',
          'final_warning',
          accounts,
          customer('final_warning', 'Final warning: backups blocked', accounts),
        );
      }
      if (rungs >= 3) {
        await skipTo('suspension', ladderStart + config.policy.suspendAfterMs);
        // The circuit breaker lets its threshold through; the rest are held, each alerting ops.
        const suspending = Math.min(accounts, config.policy.suspensionBreaker.threshold);
        phases.suspension = await phase('suspension', 'suspended', suspending, [
          ...customer('suspended', 'Suspended: servers stopped (no data deleted)', suspending),
          {
            channel: 'discord_ops',
            template: 'Circuit breaker: suspension held',
            count: accounts - suspending,
          },
        ]);

        const statuses = await closedLoop(accounts, 32, async (i) => {
          const s = await env.client.workflow.getHandle(workflowIdFor(`herd_${i}`)).query(statusQuery);
          return s.state === 'suspended';
        });
        const held = accounts - statuses.ok;
        phases.suspensionHeld = held;
        phases.suspended = statuses.ok;
        phases.breakerThreshold = config.policy.suspensionBreaker.threshold;
      }
    } finally {
      for (const worker of workers) worker.shutdown();
      await running;
    }

    const failedNotifications = await db.notification.count({ where: { status: 'failed' } });
    const byTemplate = await db.notification.groupBy({ by: ['channel', 'status'], _count: true });
    return {
      accounts,
      rungs,
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
