// What every admin update must carry (who and why), checked inside the workflow's update
// validators. Hand-written rather than zod on purpose: the worker evaluates a workflow's whole
// module graph once per cached workflow (reusable V8 context, one module cache per run), and zod
// in that graph cost far more per cached ladder than the ladder itself. The HTTP API and the
// CLI validate the same limits with zod (src/accounts/admin-update-schemas.ts) before anything reaches here.

export const ADMIN_INPUT_LIMITS = {
  actorMaxLength: 200,
  reasonMinLength: 3,
  reasonMaxLength: 1000,
  maxGraceHours: 24 * 90,
} as const;

export interface AdminInput {
  actor: string;
  reason: string;
}
export interface ExtendGraceInput extends AdminInput {
  hours: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function textIssue(value: unknown, name: string, min: number, max: number, missing: string): string | null {
  if (typeof value !== 'string') return `${name}: expected a string`;
  const length = value.trim().length;
  if (length < min) return `${name}: ${missing}`;
  if (length > max) return `${name}: at most ${max} characters`;
  return null;
}

/** Problems with an admin update's input, as `field: message`; empty when it is valid. */
export function adminInputIssues(input: unknown, options: { hours?: boolean } = {}): string[] {
  if (!isRecord(input)) return ['input: expected an object with actor and reason'];
  const limits = ADMIN_INPUT_LIMITS;
  const allowed = new Set(options.hours ? ['actor', 'reason', 'hours'] : ['actor', 'reason']);
  const issues = [
    textIssue(input.actor, 'actor', 1, limits.actorMaxLength, 'actor is required'),
    textIssue(
      input.reason,
      'reason',
      limits.reasonMinLength,
      limits.reasonMaxLength,
      `reason is required (at least ${limits.reasonMinLength} characters)`,
    ),
  ];
  if (options.hours) {
    const { hours } = input;
    if (typeof hours !== 'number' || !Number.isFinite(hours)) issues.push('hours: expected a number');
    else if (hours <= 0) issues.push('hours: hours must be > 0');
    else if (hours > limits.maxGraceHours) issues.push('hours: at most 90 days');
  }
  const unknown = Object.keys(input).filter((key) => !allowed.has(key));
  if (unknown.length > 0) issues.push(`input: unrecognized keys ${unknown.join(', ')}`);
  return issues.filter((issue): issue is string => issue !== null);
}

const POLICY_DURATIONS = ['finalWarningAfterMs', 'suspendAfterMs', 'retainAfterMs', 'retentionMs'] as const;

function policyIssues(policy: unknown): string[] {
  if (!isRecord(policy)) return ['policy: expected an object'];
  const issues: string[] = [];
  if (typeof policy.version !== 'string' || policy.version.trim() === '' || policy.version.length > 200)
    issues.push('policy.version: expected a name of 1 to 200 characters');
  const durations = [
    ...POLICY_DURATIONS,
    ...(policy.reminderAfterMs === undefined ? [] : ['reminderAfterMs']),
  ];
  for (const key of [...durations, 'minAmountDueCents', 'shutdownTimeoutMs']) {
    const value = policy[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
      issues.push(`policy.${key}: expected a number >= 0`);
  }
  const order = ['reminderAfterMs', 'finalWarningAfterMs', 'suspendAfterMs', 'retainAfterMs']
    .map((key) => policy[key])
    .filter((value): value is number => typeof value === 'number');
  if (order.some((value, i) => i > 0 && value <= order[i - 1]!))
    issues.push('policy: the rungs must come in order (reminder, final warning, suspension, retention)');
  for (const key of ['dryRun', 'restartServersOnRestore'])
    if (typeof policy[key] !== 'boolean') issues.push(`policy.${key}: expected true or false`);
  const breaker = policy.suspensionBreaker;
  if (!isRecord(breaker) || typeof breaker.threshold !== 'number' || typeof breaker.windowMs !== 'number')
    issues.push('policy.suspensionBreaker: expected { threshold, windowMs }');
  return issues;
}

/** Problems with an applyPolicy input (who, why, the policy, the minimum notice). */
export function applyPolicyInputIssues(input: unknown): string[] {
  if (!isRecord(input)) return ['input: expected an object with actor, reason and policy'];
  const { policy, minNoticeHours, ...admin } = input;
  const issues = [...adminInputIssues(admin), ...policyIssues(policy)];
  if (
    minNoticeHours !== undefined &&
    (typeof minNoticeHours !== 'number' ||
      !Number.isFinite(minNoticeHours) ||
      minNoticeHours < 0 ||
      minNoticeHours > ADMIN_INPUT_LIMITS.maxGraceHours)
  )
    issues.push('minNoticeHours: expected a number of hours from 0 to 90 days');
  return issues;
}
