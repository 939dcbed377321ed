// Task-queue staleness (the origin issue's "queue staleness monitoring"): who polls the billing
// task queue and how old its backlog is, for /readyz, `billing doctor` and the staleness check.
// Everything here asks the Temporal server, not the worker: it must work while the worker is
// dead, which is exactly when it matters.
import { type Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { type Logger } from '../logger.js';
import { type AlertOps } from '../../notifications/ops-alerts.js';

// @temporalio/proto is CommonJS: its namespace is reached through the default export.
const { TaskQueueType } = proto.temporal.api.enums.v1;

export type TaskQueueKind = 'workflow' | 'activity';

const KINDS: [TaskQueueKind, proto.temporal.api.enums.v1.TaskQueueType][] = [
  ['workflow', TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW],
  ['activity', TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY],
];

export interface PollerReport {
  /** The worker's identity (pid@host by default). */
  identity: string;
  lastAccessTime: string;
  ageSeconds: number;
}

export interface TaskQueueKindReport {
  pollers: PollerReport[];
  /** null when the server does not report stats (older than 1.25, or stats disabled). */
  backlogCount: number | null;
  backlogAgeSeconds: number | null;
}

export interface TaskQueueReport {
  namespace: string;
  taskQueue: string;
  checkedAt: string;
  workflow: TaskQueueKindReport;
  activity: TaskQueueKindReport;
  /** The most recent poll of either kind the server still remembers (it forgets after a few minutes). */
  lastPollAt: string | null;
  /** Age of the most recent poll; null when the server lists no poller at all. */
  pollerAgeSeconds: number | null;
  /** The older of the two backlogs; null without stats. */
  backlogAgeSeconds: number | null;
  backlogCount: number | null;
  statsSupported: boolean;
}

type WorkflowService = Connection['workflowService'];

function seconds(duration: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  if (!duration) return 0;
  return Number(duration.seconds ?? 0) + (duration.nanos ?? 0) / 1e9;
}

function timestampMs(ts: { seconds?: unknown; nanos?: number | null } | null | undefined): number | null {
  if (!ts || ts.seconds === undefined || ts.seconds === null) return null;
  return seconds(ts) * 1000;
}

async function describeKind(
  service: WorkflowService,
  namespace: string,
  taskQueue: string,
  type: proto.temporal.api.enums.v1.TaskQueueType,
  nowMs: number,
): Promise<TaskQueueKindReport> {
  const request = { namespace, taskQueue: { name: taskQueue }, taskQueueType: type };
  let response: proto.temporal.api.workflowservice.v1.IDescribeTaskQueueResponse;
  try {
    response = await service.describeTaskQueue({ ...request, reportStats: true });
  } catch (error) {
    // A server that rejects report_stats (rather than ignoring the unknown field): pollers only.
    const code = (error as { code?: number }).code;
    if (code !== 3 /* INVALID_ARGUMENT */ && code !== 12 /* UNIMPLEMENTED */) throw error;
    response = await service.describeTaskQueue(request);
  }
  const pollers = (response.pollers ?? [])
    .map((p) => ({ identity: p.identity ?? '', at: timestampMs(p.lastAccessTime) }))
    .filter((p): p is { identity: string; at: number } => p.at !== null)
    .sort((a, b) => b.at - a.at)
    .map((p) => ({
      identity: p.identity,
      lastAccessTime: new Date(p.at).toISOString(),
      ageSeconds: Math.max(0, Math.round((nowMs - p.at) / 1000)),
    }));
  const stats = response.stats;
  return {
    pollers,
    backlogCount: stats ? Number(stats.approximateBacklogCount ?? 0) : null,
    backlogAgeSeconds: stats ? Math.round(seconds(stats.approximateBacklogAge)) : null,
  };
}

/** Pollers and backlog of both kinds of the task queue, as the Temporal server sees them. */
export async function describeTaskQueueHealth(
  service: WorkflowService,
  namespace: string,
  taskQueue: string,
  now: () => number = Date.now,
): Promise<TaskQueueReport> {
  const nowMs = now();
  const [workflow, activity] = await Promise.all(
    KINDS.map(([, type]) => describeKind(service, namespace, taskQueue, type, nowMs)),
  );
  const polls = [...workflow!.pollers, ...activity!.pollers].map((p) => Date.parse(p.lastAccessTime));
  const lastPollMs = polls.length ? Math.max(...polls) : null;
  const statsSupported = workflow!.backlogCount !== null && activity!.backlogCount !== null;
  return {
    namespace,
    taskQueue,
    checkedAt: new Date(nowMs).toISOString(),
    workflow: workflow!,
    activity: activity!,
    lastPollAt: lastPollMs === null ? null : new Date(lastPollMs).toISOString(),
    pollerAgeSeconds: lastPollMs === null ? null : Math.max(0, Math.round((nowMs - lastPollMs) / 1000)),
    backlogAgeSeconds: statsSupported
      ? Math.max(workflow!.backlogAgeSeconds ?? 0, activity!.backlogAgeSeconds ?? 0)
      : null,
    backlogCount: statsSupported ? (workflow!.backlogCount ?? 0) + (activity!.backlogCount ?? 0) : null,
    statsSupported,
  };
}

export interface StalenessThresholds {
  /** A task queue whose latest poll is older than this has no live worker. */
  maxPollerAgeSeconds: number;
  /** The oldest waiting task may be this old before ops hear of it. */
  maxBacklogAgeSeconds: number;
}

export interface Finding {
  kind: 'no_poller' | 'backlog';
  ok: boolean;
  message: string;
}

/** The two staleness conditions on one report; shared by /readyz, doctor and the check. */
export function evaluateStaleness(report: TaskQueueReport, limits: StalenessThresholds): Finding[] {
  const q = report.taskQueue;
  const polled = report.pollerAgeSeconds !== null && report.pollerAgeSeconds <= limits.maxPollerAgeSeconds;
  const findings: Finding[] = [
    {
      kind: 'no_poller',
      ok: polled,
      message: polled
        ? `worker polls ${q} (last poll ${report.pollerAgeSeconds} s ago)`
        : report.lastPollAt
          ? `no worker has polled ${q} for ${report.pollerAgeSeconds} s (last poll ${report.lastPollAt})`
          : `no worker polls ${q}`,
    },
  ];
  if (report.backlogAgeSeconds === null) {
    findings.push({
      kind: 'backlog',
      ok: true,
      message: 'backlog unknown (server reports no task queue stats)',
    });
  } else {
    const ok = report.backlogAgeSeconds <= limits.maxBacklogAgeSeconds;
    findings.push({
      kind: 'backlog',
      ok,
      message: `backlog ${report.backlogCount} task(s), oldest waiting ${report.backlogAgeSeconds} s${ok ? '' : ` (over ${limits.maxBacklogAgeSeconds} s)`}`,
    });
  }
  return findings;
}

export interface StalenessCheckDeps {
  describe: () => Promise<TaskQueueReport>;
  alertOps: AlertOps;
  thresholds: StalenessThresholds;
  logger: Logger;
  now?: () => number;
}

interface OpenIncident {
  key: string;
  since: string;
}

export interface StalenessTick {
  report: TaskQueueReport | null;
  findings: Finding[];
  /** Idempotency keys of the alerts this tick raised (new incidents and recoveries). */
  alerted: string[];
  error?: string;
}

/**
 * The staleness check: one alert when an incident opens, one when it clears. An incident is
 * named by what the server says about it — the last poll it remembers, the creation time of the
 * oldest waiting task — so the alert's key (and the Notification ledger behind it) stays the same
 * across ticks, across restarts while the server still remembers, and across HTTP instances.
 */
export function createStalenessCheck(deps: StalenessCheckDeps) {
  const now = deps.now ?? Date.now;
  const open = new Map<Finding['kind'], OpenIncident>();
  /** When this process first saw no poller at all (the server lists none to date it by). */
  let noPollerSeenSince: number | null = null;

  function incidentStart(kind: Finding['kind'], report: TaskQueueReport): string {
    if (kind === 'no_poller') {
      return report.lastPollAt ?? new Date(noPollerSeenSince ?? now()).toISOString();
    }
    // The oldest task's creation, to the minute: the age the server reports moves with each tick.
    const createdMs = Date.parse(report.checkedAt) - (report.backlogAgeSeconds ?? 0) * 1000;
    return new Date(Math.floor(createdMs / 60_000) * 60_000).toISOString();
  }

  async function tick(): Promise<StalenessTick> {
    let report: TaskQueueReport;
    try {
      report = await deps.describe();
    } catch (error) {
      // Temporal itself unreachable: /readyz says so; this check has nothing to judge.
      const message = error instanceof Error ? error.message : String(error);
      deps.logger.warn({ err: message }, 'staleness check: cannot describe the task queue');
      return { report: null, findings: [], alerted: [], error: message };
    }
    if (report.lastPollAt) noPollerSeenSince = null;
    else noPollerSeenSince ??= now();
    const findings = evaluateStaleness(report, deps.thresholds).map((finding) => {
      // The server lists no poller at all (it forgot them, or it restarted): the threshold
      // counts from when this process first saw that, so a worker still starting is not an incident.
      if (finding.kind !== 'no_poller' || finding.ok || report.lastPollAt || noPollerSeenSince === null) {
        return finding;
      }
      const waited = Math.round((now() - noPollerSeenSince) / 1000);
      return waited > deps.thresholds.maxPollerAgeSeconds
        ? { ...finding, message: `${finding.message} (none seen for ${waited} s)` }
        : { ...finding, ok: true, message: `${finding.message} yet (for ${waited} s)` };
    });
    const alerted: string[] = [];
    const scope = `${report.namespace}/${report.taskQueue}`;
    for (const finding of findings) {
      const current = open.get(finding.kind);
      if (!finding.ok && !current) {
        // A poller the server still lists but that went quiet: its last poll names the incident.
        const since = incidentStart(finding.kind, report);
        const key = `staleness:${finding.kind}:${scope}:${since}`;
        await deps.alertOps({
          accountId: null,
          key,
          title:
            finding.kind === 'no_poller'
              ? `No billing worker polls ${report.taskQueue}`
              : `Billing task queue ${report.taskQueue} is backing up`,
          detail: `${finding.message}. Ladders do not move while this lasts; nothing is lost (Temporal keeps the tasks). See docs/runbook.md, "Worker down or task queue backing up".`,
        });
        open.set(finding.kind, { key, since });
        alerted.push(key);
        deps.logger.error({ key, finding: finding.message }, 'staleness alert raised');
      } else if (finding.ok && current) {
        const key = `${current.key}:resolved`;
        await deps.alertOps({
          accountId: null,
          key,
          title: `Recovered: ${finding.kind === 'no_poller' ? 'a worker polls' : 'backlog cleared on'} ${report.taskQueue}`,
          detail: `${finding.message}. Incident since ${current.since}.`,
        });
        open.delete(finding.kind);
        alerted.push(key);
        deps.logger.info({ key }, 'staleness incident resolved');
      }
    }
    return { report, findings, alerted };
  }

  /** Runs `tick` every `intervalMs` (never two at once); returns a stop function. */
  function start(intervalMs: number): () => Promise<void> {
    let running: Promise<unknown> | null = null;
    const timer = setInterval(() => {
      if (running) return; // a slow tick is not stacked up behind
      running = tick()
        .catch((error: unknown) =>
          deps.logger.error(
            { err: error instanceof Error ? error.message : String(error) },
            'staleness check failed',
          ),
        )
        .finally(() => (running = null));
    }, intervalMs);
    timer.unref();
    return async () => {
      clearInterval(timer);
      await running;
    };
  }

  return { tick, start, openIncidents: () => [...open.values()] };
}
