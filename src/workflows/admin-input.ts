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
