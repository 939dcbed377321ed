// The policy in force, in the units operators think in (hours and days), for start-up banners,
// logs and the details each ladder shows in Temporal's tools: the workflow input carries
// milliseconds. Pure (no Node built-ins): the workflow code imports it too.
import type { EnforcementPolicy } from '../workflows/definitions.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

const round2 = (n: number) => Number(n.toFixed(2));
const trim = (n: number) => String(round2(n));

/** "72 h (3 d)", "14 d (336 h)", "2 min (0.03 h)". */
export function humanDuration(ms: number): string {
  if (ms < HOUR_MS) return `${trim(ms / MINUTE_MS)} min (${trim(ms / HOUR_MS)} h)`;
  if (ms < 7 * DAY_MS) return `${trim(ms / HOUR_MS)} h (${trim(ms / DAY_MS)} d)`;
  return `${trim(ms / DAY_MS)} d (${trim(ms / HOUR_MS)} h)`;
}

/** One line per rung, times counted from the first failed payment. */
export function describePolicy(policy: EnforcementPolicy): string[] {
  return [
    `policy ${policy.version}, mode ${policy.dryRun ? 'dry-run (nothing is done to customers)' : 'enforce'}`,
    `  warning email         at once`,
    ...(policy.reminderAfterMs === undefined
      ? []
      : [`  reminder email        after ${humanDuration(policy.reminderAfterMs)}`]),
    `  final warning         after ${humanDuration(policy.finalWarningAfterMs)} (backups blocked)`,
    `  suspension            after ${humanDuration(policy.suspendAfterMs)} (servers stopped, nothing deleted)`,
    `  retained              after ${humanDuration(policy.retainAfterMs)}`,
    `  deletion review due   ${humanDuration(policy.retentionMs)} after retained (a person decides)`,
  ];
}

/**
 * The ladder's policy as Markdown, for the details Temporal shows with each workflow (the Web
 * UI's workflow page and `temporal workflow metadata`): the input says `suspendAfterMs: 432000000`,
 * this says "after 120 h (5 d)".
 */
export function policyDetails(policy: EnforcementPolicy): string {
  const rung = (name: string, when: string) => `- ${name}: ${when}`;
  return [
    `**Policy ${policy.version}**, mode ${policy.dryRun ? 'dry-run (nothing is done to customers)' : 'enforce'}; times from the first failed payment:`,
    '',
    rung('warning email', 'at once'),
    ...(policy.reminderAfterMs === undefined
      ? []
      : [rung('reminder email', `after ${humanDuration(policy.reminderAfterMs)}`)]),
    rung('final warning', `after ${humanDuration(policy.finalWarningAfterMs)}, backups blocked`),
    rung('suspension', `after ${humanDuration(policy.suspendAfterMs)}, servers stopped, nothing deleted`),
    rung('retained', `after ${humanDuration(policy.retainAfterMs)}`),
    rung('deletion review due', `${humanDuration(policy.retentionMs)} after retained (a person decides)`),
    rung(
      'circuit breaker',
      `holds suspensions beyond ${policy.suspensionBreaker.threshold} in ${humanDuration(policy.suspensionBreaker.windowMs)}`,
    ),
  ].join('\n');
}

const hoursAndDays = (ms: number) => ({ hours: round2(ms / HOUR_MS), days: round2(ms / DAY_MS) });

/** The policy as `billing policy show --json` and `GET /admin/v1/policy` give it. */
export function policyInHours(policy: EnforcementPolicy) {
  return {
    version: policy.version,
    mode: policy.dryRun ? ('dry-run' as const) : ('enforce' as const),
    reminderAfter: policy.reminderAfterMs === undefined ? null : hoursAndDays(policy.reminderAfterMs),
    finalWarningAfter: hoursAndDays(policy.finalWarningAfterMs),
    suspendAfter: hoursAndDays(policy.suspendAfterMs),
    retainAfter: hoursAndDays(policy.retainAfterMs),
    retention: hoursAndDays(policy.retentionMs),
  };
}
