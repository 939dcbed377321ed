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

export const accountIdSchema = z
  .string()
  .trim()
  .min(1, 'accountId is required')
  .max(200, 'accountId is at most 200 characters');

export const vmidSchema = z.coerce
  .number({ message: 'expected a vmid (a positive whole number)' })
  .int('expected a vmid (a positive whole number)')
  .positive('expected a vmid (a positive whole number)')
  .max(2_147_483_647, 'vmid is too large');
