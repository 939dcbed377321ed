// The judge of the topology check: a ladder stands where its own timeline says, or it fails.
import { describe, expect, it } from 'vitest';
import { judgeLadder, type Timeline } from './support/ladder-timeline.js';

const S = 1000;
const timeline: Timeline = {
  offsetsMs: { final_warning: 30 * S, suspended: 60 * S, retained: 90 * S },
  ambiguityMs: 10 * S,
};
const t0 = Date.parse('2026-11-30T12:00:00Z');
/** The failure was sent half a second before the ladder recorded overdue. */
const sent = t0 - 500;
const at = (kind: string, seconds: number) => ({
  kind: `transition:${kind}`,
  occurredAt: new Date(t0 + seconds * S),
});

describe('judgeLadder', () => {
  it('accepts a ladder paid half-way through the final warning', () => {
    const verdict = judgeLadder(
      timeline,
      [at('overdue', 0), at('final_warning', 30), at('active', 45)],
      t0 + 45 * S,
      sent,
    );
    expect(verdict).toMatchObject({ ok: true, ambiguous: false, timersDue: { sure: 1, possible: 1 } });
  });

  it('rejects a rung entered after the payment, or one missing before it', () => {
    const late = [at('overdue', 0), at('final_warning', 30), at('suspended', 60), at('active', 61)];
    expect(judgeLadder(timeline, late, t0 + 45 * S, sent).ok).toBe(false);
    expect(judgeLadder(timeline, [at('overdue', 0), at('active', 80)], t0 + 80 * S, sent).ok).toBe(false);
  });

  it('rejects a timer that fired early', () => {
    const verdict = judgeLadder(
      timeline,
      [at('overdue', 0), at('final_warning', 20), at('active', 45)],
      t0 + 45 * S,
      sent,
    );
    expect(verdict.ok).toBe(false);
    expect(verdict.early).toEqual(['final_warning']);
  });

  it('allows either side of a rung that fell due just before the payment', () => {
    const paidAt = t0 + 35 * S;
    const withRung = judgeLadder(
      timeline,
      [at('overdue', 0), at('final_warning', 30), at('active', 35)],
      paidAt,
      sent,
    );
    const without = judgeLadder(timeline, [at('overdue', 0), at('active', 35)], paidAt, sent);
    expect([withRung.ok, without.ok, withRung.ambiguous]).toEqual([true, true, true]);
  });

  it('times the rungs from when the failure was sent, not from a late overdue record', () => {
    // The overdue record came 8 s late (the flags read was held up); the rungs kept their time.
    const late = [at('overdue', 8), at('final_warning', 30), at('suspended', 60), at('active', 75)];
    expect(judgeLadder(timeline, late, t0 + 75 * S, t0).ok).toBe(true);
    expect(judgeLadder(timeline, late, t0 + 75 * S, t0 + 8 * S).early).toEqual([
      'final_warning',
      'suspended',
    ]);
  });

  it('wants every rung of a ladder paid only after its deletion review', () => {
    const full = ['overdue', 'final_warning', 'suspended', 'retained', 'active'].map((k, i) => at(k, i * 30));
    expect(judgeLadder(timeline, full, null, sent).ok).toBe(true);
    expect(
      judgeLadder(
        timeline,
        full.filter((t) => t.kind !== 'transition:suspended'),
        null,
        sent,
      ).ok,
    ).toBe(false);
  });
});
