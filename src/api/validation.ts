// Request validation for the route modules: zod schemas in, 400 with field errors out. The same
// schemas feed the OpenAPI document (src/api/openapi.ts), so docs and checks cannot drift.
import { type FastifyReply } from 'fastify';
import { z } from 'zod';

export const errorResponseSchema = z
  .object({
    error: z.string().describe('machine-readable error kind, e.g. bad_request, not_found'),
    message: z.string(),
    fields: z
      .record(z.string(), z.array(z.string()))
      .optional()
      .describe('per-field problems, keyed by the field path (e.g. "body.action")'),
    requestId: z
      .string()
      .optional()
      .describe('the id of the request in the service log (also in the x-request-id header)'),
  })
  .meta({ id: 'Error' });

export type ErrorResponse = z.infer<typeof errorResponseSchema>;

type Where = 'body' | 'query' | 'params';

function fieldErrors(where: Where, error: z.ZodError): Record<string, string[]> {
  const fields: Record<string, string[]> = {};
  for (const issue of error.issues) {
    const key = [where, ...issue.path.map(String)].join('.');
    (fields[key] ??= []).push(issue.message);
  }
  return fields;
}

/**
 * Parses one part of the request; on failure answers 400 and returns `undefined`, so a handler
 * reads `const body = parse(...); if (!body) return reply;`.
 */
export function parse<S extends z.ZodType>(
  reply: FastifyReply,
  where: Where,
  schema: S,
  input: unknown,
): z.output<S> | undefined {
  const result = schema.safeParse(input ?? (where === 'body' ? undefined : {}));
  if (result.success) return result.data;
  void reply.code(400).send({
    error: 'bad_request',
    message: `invalid request ${where}`,
    fields: fieldErrors(where, result.error),
  } satisfies ErrorResponse);
  return undefined;
}

export function notFound(reply: FastifyReply, message: string) {
  return reply.code(404).send({ error: 'not_found', message } satisfies ErrorResponse);
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

/** A vmid in a path or query: decimal digits only (no "0x3E9", " 1001", "1e3", "+7"). */
export const vmidSchema = z
  .string({ message: VMID_RULE })
  .regex(/^[1-9][0-9]{0,9}$/, VMID_RULE)
  .transform(Number)
  .pipe(z.number().max(MAX_VMID, VMID_RULE));

/** A vmid in a JSON body. */
export const vmidNumberSchema = z
  .number({ message: VMID_RULE })
  .int(VMID_RULE)
  .min(1, VMID_RULE)
  .max(MAX_VMID, VMID_RULE);
