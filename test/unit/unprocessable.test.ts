// Which failures reject an event (its content) and which are retried (everything else): an
// outage or an unknown failure must never be answered 2xx and dropped.
import { ServiceError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { UnprocessableEventError, unprocessableReason } from '../../src/webhook/unprocessable.js';

/** A Prisma raw-query error through the pg adapter, as the driver reports a SQLSTATE. */
function rawQueryError(sqlState: string) {
  return Object.assign(new Error(`Raw query failed. Code: \`${sqlState}\`.`), {
    name: 'PrismaClientKnownRequestError',
    code: 'P2010',
    clientVersion: '6.19.3',
    meta: { driverAdapterError: { name: 'DriverAdapterError', cause: { originalCode: sqlState } } },
  });
}

describe('unprocessableReason', () => {
  it.each([
    ['22003', /a number out of range for its column \(SQLSTATE 22003\)$/],
    ['22P05', /text with a NUL character \(SQLSTATE 22P05\)$/],
    ['22021', /NUL character or invalid UTF-8/],
    ['22P02', /a value of the wrong type/],
    ['22999', /a data exception \(SQLSTATE 22999\)$/],
    ['23502', /a required value missing/],
    ['54001', /nesting deeper than the database parses/],
  ])('SQLSTATE %s (the content): rejected', (state, reason) => {
    expect(unprocessableReason(rawQueryError(state))).toMatch(reason);
  });

  it.each(['40001', '40P01', '57P01', '08006', '53300', '55P03', '23505', '23503', '42P01'])(
    'SQLSTATE %s (not the content): retried',
    (state) => {
      expect(unprocessableReason(rawQueryError(state))).toBeNull();
    },
  );

  it('the pg driver’s own error carries the SQLSTATE in code', () => {
    expect(unprocessableReason(Object.assign(new Error('x'), { code: '22003' }))).toMatch(/SQLSTATE 22003/);
    expect(unprocessableReason(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBeNull();
    expect(unprocessableReason(Object.assign(new Error('x'), { code: 'EPIPE' }))).toBeNull();
  });

  it('the readable-event check, JavaScript range errors and Prisma’s data errors: rejected', () => {
    expect(unprocessableReason(new UnprocessableEventError('unreadable invoice: x'))).toBe(
      'unreadable invoice: x',
    );
    expect(unprocessableReason(new RangeError('Maximum call stack size exceeded'))).toBe(
      'the event is nested too deeply to process',
    );
    expect(unprocessableReason(new RangeError('Invalid time value'))).toBe('a timestamp out of range');
    const known = Object.assign(new Error('x'), { name: 'PrismaClientKnownRequestError', code: 'P2020' });
    expect(unprocessableReason(known)).toMatch(/a number out of range for its column \(P2020\)/);
    const validation = Object.assign(new Error('x'), { name: 'PrismaClientValidationError' });
    expect(unprocessableReason(validation)).toMatch(/wrong type/);
    // A cause deeper in the chain counts too.
    expect(unprocessableReason(new Error('wrapped', { cause: rawQueryError('22003') }))).toMatch(/22003/);
  });

  it('outages and unknown failures: retried', () => {
    expect(unprocessableReason(new ServiceError('UNAVAILABLE: connection refused'))).toBeNull();
    expect(unprocessableReason(new TypeError('fetch failed'))).toBeNull();
    expect(unprocessableReason(new Error('something else'))).toBeNull();
    const p2028 = Object.assign(new Error('Transaction API error'), {
      name: 'PrismaClientKnownRequestError',
      code: 'P2028',
    });
    expect(unprocessableReason(p2028)).toBeNull();
    expect(unprocessableReason('a string')).toBeNull();
    expect(unprocessableReason(null)).toBeNull();
  });
});
