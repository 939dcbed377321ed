// Bearer-token guards for the internal API (main API, controller, Portal) and the admin API
// (operators). Two different tokens: an internal caller can never pause or restore a ladder.
import { createHash, timingSafeEqual } from 'node:crypto';
import { type FastifyReply, type FastifyRequest } from 'fastify';

export type TokenKind = 'internal' | 'admin';

export interface Tokens {
  internal: string;
  admin: string;
}

// Hashing first gives equal-length buffers, so the comparison time says nothing about the token.
function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function sameSecret(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  // Stryker disable next-line ConditionalExpression: equivalent, no header matches the pattern either
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/**
 * A preHandler that admits requests carrying the token of `kind`: no or an unknown token → 401,
 * the other kind's token → 403 (authenticated, but not for this surface).
 */
export function requireToken(kind: TokenKind, tokens: Tokens) {
  const expected = tokens[kind];
  const other = kind === 'internal' ? tokens.admin : tokens.internal;
  return async function checkToken(request: FastifyRequest, reply: FastifyReply) {
    const presented = bearer(request);
    if (presented === undefined) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({ error: 'unauthorized', message: 'missing bearer token' });
    }
    const isExpected = sameSecret(presented, expected);
    const isOther = sameSecret(presented, other);
    if (isExpected) return;
    if (isOther) {
      return reply.code(403).send({ error: 'forbidden', message: `this route needs the ${kind} token` });
    }
    return reply
      .code(401)
      .header('www-authenticate', 'Bearer')
      .send({ error: 'unauthorized', message: 'invalid bearer token' });
  };
}
