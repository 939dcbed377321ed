// The zod schemas the routes share. Fastify validates every request part with them and
// serialises every answer with them (fastify-type-provider-zod), and /openapi.json is generated
// from the same schemas (src/api/openapi.ts): what the document says is what the service checks.
import { type FastifyReply } from 'fastify';
import { z } from 'zod';

export const errorResponseSchema = z
  .object({
    error: z.string().describe('machine-readable error kind, e.g. bad_request, not_found'),
    message: z.string(),
    fields: z
      .record(z.string(), z.array(z.string()))
      .optional()
      .describe(
        'on 400 (and 409): per-input problems, keyed by where the input is and its path ("body.action", "query.limit", "params.accountId", "headers.stripe-signature")',
      ),
    requestId: z
      .string()
      .describe('the id of the request in the service log (also in the x-request-id header)'),
  })
  .meta({ id: 'Error' });

export type ErrorResponse = z.infer<typeof errorResponseSchema>;
/** What a route hands over; the request id is added on the way out (src/api/error-responses.ts). */
export type ErrorBody = Omit<ErrorResponse, 'requestId'>;

/** Answers with the error body; the status must be one the route's schema declares. */
export function sendError(reply: FastifyReply, status: number, body: ErrorBody) {
  return reply.code(status).send(body);
}

export function notFound(reply: FastifyReply, message: string) {
  return sendError(reply, 404, { error: 'not_found', message });
}

/**
 * The main API's opaque account ids. They become workflow ids and search attributes, so nothing
 * else gets in: no emails, spaces, control characters (NUL), path tricks or bidi overrides.
 */
export const ACCOUNT_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,100}$/;
const ACCOUNT_ID_RULE = 'expected an account id: 1 to 100 of A-Z a-z 0-9 _ . : -';
export const accountIdSchema = z
  .string({ message: ACCOUNT_ID_RULE })
  .regex(ACCOUNT_ID_PATTERN, ACCOUNT_ID_RULE)
  .describe("the main API's account id (`^[A-Za-z0-9_.:-]{1,100}$`)");

/** A vmid is a positive 32-bit integer (PostgreSQL's `integer`). */
export const MAX_VMID = 2_147_483_647;
const VMID_RULE = `expected a vmid: a whole number from 1 to ${MAX_VMID}`;

/**
 * A whole number in a path or query string: decimal digits only (no "0x3E9", " 1001", "1e3",
 * "+7", ""), within [min, max]. Documented as the integer it stands for.
 */
export function integerString(min: number, max: number, rule: string) {
  const digits = min === 0 ? /^(0|[1-9][0-9]*)$/ : /^[1-9][0-9]*$/;
  return z
    .string({ message: rule })
    .regex(digits, rule)
    .transform(Number)
    .pipe(z.number().min(min, rule).max(max, rule))
    .meta({ type: 'integer', minimum: min, maximum: max, pattern: undefined });
}

/** A vmid in a path. */
export const vmidSchema = integerString(1, MAX_VMID, VMID_RULE).describe(
  `a server's vmid: a whole number from 1 to ${MAX_VMID}, decimal digits only`,
);

/** A vmid in a JSON body. */
export const vmidNumberSchema = z
  .number({ message: VMID_RULE })
  .int(VMID_RULE)
  .min(1, VMID_RULE)
  .max(MAX_VMID, VMID_RULE);

/** A timestamp in an answer: the handler may hand over a Date, the body carries ISO 8601. */
export const timestampSchema = z.codec(z.iso.datetime(), z.date(), {
  decode: (text) => new Date(text),
  encode: (date) => date.toISOString(),
});
