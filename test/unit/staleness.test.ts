// The operations variables and the staleness check's incident logic, on made-up reports (the
// real server is in test/integration/ops.test.ts).
import { describe, expect, it } from 'vitest';
import { type ConfigError, loadConfig } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { type OpsAlert } from '../../src/notifications/ops-alerts.js';
import { createStalenessCheck, type TaskQueueReport } from '../../src/platform/observability/task-queue.js';

const base = {
  DATABASE_URL: 'postgresql://u:p@localhost:5432/db',
  INTERNAL_API_TOKEN: 'internal-token-0123456789abcdef',
  ADMIN_TOKEN: 'admin-token-0123456789abcdef0000',
  STRIPE_WEBHOOK_SECRET: 'whsec_x',
};

describe('operations variables', () => {
  it('have defaults that keep metrics on localhost and the check on', () => {
    const { env } = loadConfig(base);
    expect(env).toMatchObject({
      WORKER_SHUTDOWN_GRACE_SECONDS: 30,
      WORKER_METRICS_ADDRESS: '127.0.0.1:9464',
      WORKER_SERVICE_METRICS_ADDRESS: '127.0.0.1:9465',
      STALENESS_CHECK_INTERVAL_SECONDS: 60,
      STALENESS_MAX_POLLER_AGE_SECONDS: 180,
      STALENESS_MAX_BACKLOG_AGE_SECONDS: 300,
    });
  });

  it('turn metrics off with `off`, the check with 0', () => {
    const { env } = loadConfig({
      ...base,
      WORKER_METRICS_ADDRESS: 'off',
      WORKER_SERVICE_METRICS_ADDRESS: '',
      STALENESS_CHECK_INTERVAL_SECONDS: '0',
    });
    expect(env.WORKER_METRICS_ADDRESS).toBeUndefined();
    expect(env.WORKER_SERVICE_METRICS_ADDRESS).toBeUndefined();
    expect(env.STALENESS_CHECK_INTERVAL_SECONDS).toBe(0);
  });

  it('reject a bad address and a poller age below a long poll', () => {
    const problems = (() => {
      try {
        loadConfig({ ...base, WORKER_METRICS_ADDRESS: '9464', STALENESS_MAX_POLLER_AGE_SECONDS: '30' });
        return [];
      } catch (error) {
        return (error as ConfigError).problems.map((p) => p.variable).sort();
      }
    })();
    expect(problems).toEqual(['STALENESS_MAX_POLLER_AGE_SECONDS', 'WORKER_METRICS_ADDRESS']);
  });
});

function report(at: number, overrides: Partial<TaskQueueReport> = {}): TaskQueueReport {
  const kind = { pollers: [], backlogCount: 0, backlogAgeSeconds: 0 };
  return {
    namespace: 'default',
    taskQueue: 'billing-enforcement',
    checkedAt: new Date(at).toISOString(),
    workflow: kind,
    activity: kind,
    lastPollAt: new Date(at - 5_000).toISOString(),
    pollerAgeSeconds: 5,
    backlogAgeSeconds: 0,
    backlogCount: 0,
    statsSupported: true,
    ...overrides,
  };
}

describe('the staleness check', () => {
  it('alerts once for a growing backlog, and once when it clears', async () => {
    let now = Date.parse('2026-11-25T10:00:30Z');
    let current = report(now);
    const alerts: OpsAlert[] = [];
    const check = createStalenessCheck({
      describe: () => Promise.resolve(current),
      alertOps: (alert) => {
        alerts.push(alert);
        return Promise.resolve();
      },
      thresholds: { maxPollerAgeSeconds: 180, maxBacklogAgeSeconds: 300 },
      logger: createLogger('silent'),
      now: () => now,
    });
    expect((await check.tick()).alerted).toEqual([]);
    // The oldest task was created at 10:00:00 and keeps waiting while the clock moves on.
    for (const age of [310, 370, 431]) {
      now = Date.parse('2026-11-25T10:00:00Z') + age * 1000;
      current = report(now, { backlogAgeSeconds: age, backlogCount: 12 });
      await check.tick();
    }
    expect(alerts.map((a) => a.key)).toEqual([
      'staleness:backlog:default/billing-enforcement:2026-11-25T10:00:00.000Z',
    ]);
    expect(alerts[0]!.detail).toMatch(/^backlog 12 task\(s\), oldest waiting 310 s \(over 300 s\)/);
    current = report(now);
    await check.tick();
    await check.tick();
    expect(alerts.map((a) => a.title)).toEqual([
      'Billing task queue billing-enforcement is backing up',
      'Recovered: backlog cleared on billing-enforcement',
    ]);
  });

  it('keeps an incident open when the alert could not be sent, and retries it next tick', async () => {
    const now = Date.parse('2026-11-25T10:00:00Z');
    let fail = true;
    const keys: string[] = [];
    const check = createStalenessCheck({
      describe: () =>
        Promise.resolve(report(now, { lastPollAt: '2026-11-25T09:50:00.000Z', pollerAgeSeconds: 600 })),
      alertOps: (alert) => {
        if (fail) return Promise.reject(new Error('PostgreSQL is down'));
        keys.push(alert.key);
        return Promise.resolve();
      },
      thresholds: { maxPollerAgeSeconds: 180, maxBacklogAgeSeconds: 300 },
      logger: createLogger('silent'),
      now: () => now,
    });
    await expect(check.tick()).rejects.toThrow('PostgreSQL is down');
    fail = false;
    expect((await check.tick()).alerted).toEqual([
      'staleness:no_poller:default/billing-enforcement:2026-11-25T09:50:00.000Z',
    ]);
    expect((await check.tick()).alerted).toEqual([]);
    expect(keys).toHaveLength(1);
  });

  it('reports Temporal being unreachable without alerting (that is /readyz’s job)', async () => {
    const check = createStalenessCheck({
      describe: () => Promise.reject(new Error('14 UNAVAILABLE: connection refused')),
      alertOps: () => Promise.reject(new Error('must not be called')),
      thresholds: { maxPollerAgeSeconds: 180, maxBacklogAgeSeconds: 300 },
      logger: createLogger('silent'),
    });
    expect(await check.tick()).toMatchObject({
      report: null,
      alerted: [],
      error: '14 UNAVAILABLE: connection refused',
    });
  });
});
