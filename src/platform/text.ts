// Free text that reaches PostgreSQL, workflow inputs or the audit log, as a JSON Schema can state
// it exactly: PostgreSQL's text cannot hold NUL (0x00), so a NUL is refused up front (400, not a
// failed write), and "at least n characters" counts after trimming, spelled out with the
// whitespace that String.prototype.trim removes (a pattern's `\s` means other things elsewhere).
import { z } from 'zod';

const WS = '\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff';
const SOLID = `[^${WS}\\u0000]`;

function pattern(min: number): RegExp {
  // eslint-disable-next-line no-control-regex -- refusing NUL is the point
  if (min <= 0) return /^[^\u0000]*$/;
  if (min === 1) return new RegExp(`^[^\\u0000]*${SOLID}[^\\u0000]*$`);
  return new RegExp(`^[${WS}]*${SOLID}[^\\u0000]{${min - 2},}${SOLID}[${WS}]*$`);
}

/** Text of at most `max` characters, at least `min` once trimmed, without NUL; trimmed. */
export function text(min: number, max: number) {
  const rule =
    min > 0
      ? `at least ${min} character${min === 1 ? '' : 's'} besides spaces, at most ${max}, no NUL`
      : `at most ${max} characters, no NUL`;
  return z.string().max(max, rule).regex(pattern(min), rule).trim();
}
