// The answers a route can give, as its fastify schema declares them: each status with its body
// schema (serialised with it) and its description (published in /openapi.json). The error
// statuses every route shares are added here, so none can be left out of the document.
import { type z } from 'zod';
import { errorResponseSchema } from './validation.js';

interface HeaderDoc {
  description: string;
  type: 'string' | 'integer';
}

export interface ResponseDoc {
  description: string;
  content: Record<string, { schema: z.ZodType }>;
  /** Response headers this answer always carries (documented as required). */
  headers?: Record<string, HeaderDoc>;
}

export function json(
  schema: z.ZodType,
  description: string,
  headers?: Record<string, HeaderDoc>,
): ResponseDoc {
  return { description, content: { 'application/json': { schema } }, ...(headers ? { headers } : {}) };
}

export function errorResponse(description: string, headers?: Record<string, HeaderDoc>): ResponseDoc {
  return json(errorResponseSchema, description, headers);
}

export const RETRY_AFTER: Record<string, HeaderDoc> = {
  'Retry-After': { type: 'integer', description: 'seconds to wait before trying again' },
};

export interface RouteShape {
  /**
   * Takes a bearer token of the scopes in its `config.scopes` (401 without a valid one, 403 with
   * a token of another scope, 429 once an address has failed too often this minute).
   */
  auth?: boolean;
  /** Under the per-client request limit (429); health, readiness, metrics and the webhook are not. */
  limited?: boolean;
  /** Reads a JSON body: invalid JSON 400, over 1 MiB 413, another media type 415. */
  body?: boolean;
  /** Has path parameters: one over 100 characters is 414. */
  pathParams?: boolean;
  /** What a 400 means on this route beyond malformed HTTP (which inputs are checked). */
  invalid?: string;
}

/**
 * The error answers of a route: those every route can give (malformed request 400, request
 * timeout 408, headers over 16 KiB 431, a bug 500), those its shape implies, and its own.
 */
export function errorResponses(shape: RouteShape, own: Record<number, ResponseDoc> = {}) {
  const invalid = [
    'The request is not valid HTTP or its URL does not decode',
    ...(shape.body ? ['the body is not JSON'] : []),
    ...(shape.invalid ? [shape.invalid] : []),
  ].join('; ');
  const responses: Record<number, ResponseDoc> = {
    400: errorResponse(`${invalid}. \`fields\` names each input that failed. Nothing was changed.`),
    408: errorResponse('The request did not arrive whole within 30 s (headers within 10 s)'),
    431: errorResponse('The request headers are larger than 16 KiB'),
    500: errorResponse(
      'Not completed because of a fault in the service; the body carries only the request id of the log line (safe to retry)',
    ),
  };
  if (shape.auth) {
    responses[401] = errorResponse('No bearer token, or not a token this service knows', {
      'WWW-Authenticate': { type: 'string', description: '`Bearer`' },
    });
    responses[403] = errorResponse('A valid token of another scope: this route does not accept it');
  }
  if (shape.auth || shape.limited !== false) {
    responses[429] = errorResponse(
      [
        ...(shape.limited !== false
          ? ['More requests this minute than the per-client limit (RATE_LIMIT_PER_MINUTE)']
          : []),
        ...(shape.auth
          ? [
              'too many failed authentications from this address this minute (AUTH_FAILURES_PER_MINUTE), whatever the token',
            ]
          : []),
      ].join(', or ') + '; nothing was read',
      RETRY_AFTER,
    );
  }
  if (shape.body) {
    responses[413] = errorResponse('The body is larger than 1 MiB');
    responses[415] = errorResponse('The body is not application/json');
  }
  if (shape.pathParams) responses[414] = errorResponse('A path parameter is longer than 100 characters');
  return { ...responses, ...own };
}
