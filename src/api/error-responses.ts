// One error body for every 4xx and 5xx the service answers, fastify's own included (invalid
// JSON, unknown route, wrong method, body too large, unsupported media type): `{ error,
// message, requestId }` (see errorResponseSchema). A 5xx never carries an exception's message —
// a database error can quote SQL, parameters or connection details — only the request id that
// its log line has, so an operator can find it.
import { randomUUID } from 'node:crypto';
import { type Socket } from 'node:net';
import { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { type ErrorBody, type ErrorResponse } from './validation.js';

/** Request ids: random, so they say nothing about traffic; echoed as `x-request-id`. */
export const genReqId = () => randomUUID();

/** Fastify's own 4xx codes, named like ours. */
const KINDS: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  408: 'request_timeout',
  409: 'conflict',
  411: 'length_required',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  429: 'too_many_requests',
  431: 'request_header_fields_too_large',
};

function send(reply: FastifyReply, status: number, body: ErrorBody) {
  const requestId = String(reply.request.id);
  return reply
    .code(status)
    .header('x-request-id', requestId)
    .send({ ...body, requestId } satisfies ErrorResponse);
}

function isErrorBody(payload: unknown): payload is ErrorResponse {
  return (
    typeof payload === 'object' &&
    payload !== null &&
    typeof (payload as { error?: unknown }).error === 'string'
  );
}

/** `/v1/accounts/:accountId/billing` → a regular expression for concrete paths. */
function patternOf(url: string): RegExp {
  const escaped = url
    .split('/')
    .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${escaped}/?$`);
}

/**
 * Errors fastify raises before routing (Fastify's `frameworkErrors` option): a URL that does not
 * decode (invalid percent-encoding or UTF-8) → 400, a path parameter over 100 characters → 414.
 */
export function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const status = error.statusCode ?? 400;
  void send(reply, status, {
    error: KINDS[status] ?? 'bad_request',
    message:
      status === 414 ? 'a path parameter is longer than 100 characters' : 'the URL is not valid (encoding)',
  });
}

export function installErrorHandling(app: FastifyInstance) {
  // Every route's path and methods, to tell "no such path" (404) from "not this method" (405).
  const routes: { method: string; pattern: RegExp }[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, pattern: patternOf(route.url) });
  });
  const unrouted = (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0] ?? '/';
    const allowed = [...new Set(routes.filter((r) => r.pattern.test(path)).map((r) => r.method))];
    if (allowed.length > 0) {
      void reply.header('allow', allowed.join(', '));
      return send(reply, 405, {
        error: 'method_not_allowed',
        message: `${request.method} is not allowed on this path; allowed: ${allowed.join(', ')}`,
      });
    }
    return send(reply, 404, { error: 'not_found', message: `no route ${request.method} ${path}` });
  };
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    void reply.header('x-request-id', String(request.id));
    // No route: answered before anything of the request is read (a QUERY or DELETE body would
    // otherwise be parsed, and its media type refused, before the 404 or 405).
    if (request.is404) return unrouted(request, reply);
  });
  // The routes' own error answers (400 with fields, 401, 404, 409, 503) get the request id too.
  app.addHook('preSerialization', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) =>
    reply.statusCode >= 400 && isErrorBody(payload) && payload.requestId === undefined
      ? { ...payload, requestId: String(request.id) }
      : payload,
  );

  app.setNotFoundHandler((request, reply) => unrouted(request, reply));

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation) {
      // A request part failed its route's schema: which part, and each input's problems.
      const where = error.validationContext === 'querystring' ? 'query' : (error.validationContext ?? 'body');
      const fields: Record<string, string[]> = {};
      for (const issue of error.validation) {
        const key = [where, ...issue.instancePath.split('/').filter(Boolean)].join('.');
        (fields[key] ??= []).push(issue.message ?? 'invalid');
      }
      return send(reply, 400, { error: 'bad_request', message: `invalid request ${where}`, fields });
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      // Fastify's own 4xx (parsing, limits): its message says what was wrong with the request.
      return send(reply, status, { error: KINDS[status] ?? 'bad_request', message: error.message });
    }
    request.log.error({ err: error }, 'request failed');
    return send(reply, status >= 500 && status < 600 ? status : 500, {
      error: 'internal',
      message: `internal error: the request was not completed; it is safe to retry (request id ${String(request.id)})`,
    });
  });
}

/**
 * Errors Node's HTTP parser meets before fastify sees a request (a slow client's request
 * timeout, headers over the size limit, a malformed request): the same body, then the
 * connection is closed. Fastify's `clientErrorHandler` option.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, body] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, { error: 'request_timeout', message: 'the request was not received in time' }]
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [
            431,
            {
              error: 'request_header_fields_too_large',
              message: 'the request headers are larger than 16 KiB',
            },
          ]
        : [400, { error: 'bad_request', message: 'the request is not valid HTTP' }];
  const json = JSON.stringify({ ...body, requestId: randomUUID() });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${status === 408 ? 'Request Timeout' : status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`,
    );
  }
  socket.destroy();
}
