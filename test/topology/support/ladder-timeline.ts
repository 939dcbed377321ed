// Where a ladder should stand, from its own timeline: the rungs fall due at fixed offsets from the
// moment it went overdue, and a payment accepted by the webhook stops it where it is. A rung that
// fell due just before the payment may or may not have been entered first (its timer fired, the
// payment's signal came in the same workflow task); within that window either is right.
//
// That moment is the workflow's own clock when it entered overdue, seen from outside only within
// bounds: not before the failure's first delivery was sent (nothing started the ladder earlier),
// not after the overdue transition was recorded (the workflow reads the account's flags in
// between, which a restart can hold up for seconds).

export const RUNGS = ['final_warning', 'suspended', 'retained'] as const;
export type Rung = (typeof RUNGS)[number];

/** The email each transition sends; a ladder that is paid ends with `restored`. */
export const EMAIL_OF: Record<string, string> = {
  'transition:overdue': 'payment_failed',
  'transition:final_warning': 'final_warning',
  'transition:suspended': 'suspended',
  'transition:retained': 'retained',
  'transition:active': 'restored',
};

export interface Timeline {
  offsetsMs: Record<Rung, number>;
  /** How long before the payment a rung may have fallen due and still not been entered. */
  ambiguityMs: number;
}

export interface TimelineVerdict {
  ok: boolean;
  ambiguous: boolean;
  /** A transition entered before its rung fell due (a timer that fired early). */
  early: string[];
  /** How many of the rung timers had surely fallen due before the payment, and how many may have. */
  timersDue: { sure: number; possible: number };
  expected: string;
  actual: string;
}

/**
 * `transitions`: the ladder's transition rows in order (kind, occurredAt). `paidAcceptedAt`: when
 * the webhook accepted the payment that ended it (null: paid only after the deletion review).
 * `failureFirstSentAt`: when the failure that started it was first sent to the webhook.
 */
export function judgeLadder(
  timeline: Timeline,
  transitions: { kind: string; occurredAt: Date }[],
  paidAcceptedAt: number | null,
  failureFirstSentAt: number,
): TimelineVerdict {
  const kinds = transitions.map((t) => t.kind);
  const latest = transitions.find((t) => t.kind === 'transition:overdue')?.occurredAt.getTime();
  const early: string[] = [];
  if (latest === undefined) {
    return {
      ok: false,
      ambiguous: false,
      early,
      timersDue: { sure: 0, possible: 0 },
      expected: 'an overdue ladder',
      actual: kinds.join(' → '),
    };
  }
  /** The bounds of the moment the ladder went overdue. */
  const earliest = Math.min(failureFirstSentAt, latest);
  for (const rung of RUNGS) {
    const entered = transitions.find((t) => t.kind === `transition:${rung}`);
    // occurredAt is the workflow's clock at the step; allow a second for rounding.
    if (entered && entered.occurredAt.getTime() < earliest + timeline.offsetsMs[rung] - 1000)
      early.push(rung);
  }
  const dueBy = (base: number, t: number) => RUNGS.filter((rung) => base + timeline.offsetsMs[rung] <= t);
  const sequence = (rungs: readonly string[]) =>
    ['transition:overdue', ...rungs.map((r) => `transition:${r}`), 'transition:active'].join(' → ');
  const actual = kinds.join(' → ');
  if (paidAcceptedAt === null) {
    const expected = sequence(RUNGS);
    const timersDue = { sure: RUNGS.length, possible: RUNGS.length };
    return {
      ok: actual === expected && early.length === 0,
      ambiguous: false,
      early,
      timersDue,
      expected,
      actual,
    };
  }
  const sureRungs = dueBy(latest, paidAcceptedAt - timeline.ambiguityMs);
  const possibleRungs = dueBy(earliest, paidAcceptedAt);
  const [sure, possible] = [sequence(sureRungs), sequence(possibleRungs)];
  const ambiguous = sure !== possible;
  const ok = (actual === sure || actual === possible) && early.length === 0;
  const timersDue = { sure: sureRungs.length, possible: possibleRungs.length };
  return { ok, ambiguous, early, timersDue, expected: ambiguous ? `${sure} or ${possible}` : sure, actual };
}
