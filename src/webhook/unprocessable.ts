// Which failures come from the event's own content — permanent for this version of the code, so
// the event is stored as rejected and answered 2xx — and which do not. Only failures known to
// come from the content count: a value the database refuses as data (SQLSTATE class 22, a
// missing required value, a check, nesting beyond its limits), a value JavaScript cannot
// represent (RangeError), or a field the readable-event schemas refuse. Everything else (an
// outage, a deadlock, an unknown bug) stays 5xx, so Stripe retries as before.
// Reasons name the rule, never a value: they go to logs and ops alerts.
import { chain } from './dependency-errors.js';

/** The event's content cannot be processed by this version of the code. */
export class UnprocessableEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnprocessableEventError';
  }
}

const SQLSTATE_MEANING: Record<string, string> = {
  '22001': 'a value too long for its column',
  '22003': 'a number out of range for its column',
  '22007': 'a malformed date',
  '22008': 'a date out of range',
  '22021': 'text with a NUL character or invalid UTF-8',
  '22P02': 'a value of the wrong type',
  '22P05': 'text with a NUL character',
  '23502': 'a required value missing',
  '23514': 'a value a check constraint refuses',
  '54001': 'nesting deeper than the database parses',
};

/** Prisma's query errors of the same kind (model queries map the SQLSTATE to these). */
const PRISMA_MEANING: Record<string, string> = {
  P2000: 'a value too long for its column',
  P2007: 'a value the database refuses',
  P2011: 'a required value missing',
  P2020: 'a number out of range for its column',
  P2023: 'a value of the wrong type',
};

const isContentSqlState = (state: string) =>
  state.startsWith('22') || state.startsWith('54') || state === '23502' || state === '23514';

/**
 * The SQLSTATE of a PostgreSQL error: Prisma's raw-query error (P2010) through the pg adapter
 * carries it in `meta.driverAdapterError.cause.originalCode`; the pg driver's own error in `code`.
 */
function sqlStateOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const meta = (error as { meta?: { driverAdapterError?: { cause?: { originalCode?: unknown } } } }).meta;
  const adapterCode = meta?.driverAdapterError?.cause?.originalCode;
  if (typeof adapterCode === 'string') return adapterCode;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9][0-9A-Z]{4}$/.test(code) ? code : undefined;
}

function rangeErrorReason(error: RangeError): string {
  if (/call stack/i.test(error.message)) return 'the event is nested too deeply to process';
  if (/time value/i.test(error.message)) return 'a timestamp out of range';
  return `a value out of range (${error.message.slice(0, 120)})`;
}

/** Why the event's content cannot be processed, or null when the failure may pass (retry). */
export function unprocessableReason(error: unknown): string | null {
  for (const e of chain(error)) {
    if (e instanceof UnprocessableEventError) return e.message;
    const state = sqlStateOf(e);
    if (state !== undefined) {
      return isContentSqlState(state)
        ? `the database refused a value of the event: ${SQLSTATE_MEANING[state] ?? 'a data exception'} (SQLSTATE ${state})`
        : null;
    }
    if (e instanceof RangeError) return rangeErrorReason(e);
    const name = (e as { name?: unknown } | null)?.name;
    if (name === 'PrismaClientValidationError') return 'a value of the wrong type for the database';
    const code = (e as { code?: unknown } | null)?.code;
    if (name === 'PrismaClientKnownRequestError' && typeof code === 'string' && PRISMA_MEANING[code]) {
      return `the database refused a value of the event: ${PRISMA_MEANING[code]} (${code})`;
    }
  }
  return null;
}
