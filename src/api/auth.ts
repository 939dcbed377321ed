// Bearer-token scopes of the internal HTTP API. Each caller has its own scope, so a leaked
// token opens only what its caller needs: the Portal's cannot re-point an account, the
// controller's only asks whether a server may be repaired, and no internal caller can pause or
// restore a ladder (admin). Each scope takes several tokens, so a token is rotated by adding
// the new one, moving the caller, then removing the old one.
import { createHash, timingSafeEqual } from 'node:crypto';
import { type FastifyReply, type FastifyRequest } from 'fastify';
import { type AuthFailureLimiter } from './rate-limits.js';

export const SCOPES = ['internal', 'controller', 'portal', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** The accepted tokens of each scope (a scope without tokens admits nobody). */
export type ScopeTokens = Readonly<Record<Scope, readonly string[]>>;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The token scopes a route admits; a route without them needs no token. */
    scopes?: readonly Scope[];
  }
}

// Hashing first gives equal-length buffers, so the comparison time says nothing about the token.
function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  // Stryker disable next-line ConditionalExpression: equivalent, no header matches the pattern either
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/**
 * Which scope a token belongs to. Every configured token is compared, whatever matched first,
 * so the time taken says neither whether nor where the token matched.
 */
export function scopeResolver(tokens: ScopeTokens): (presented: string) => Scope | undefined {
  const known = SCOPES.flatMap((scope) => tokens[scope].map((token) => ({ scope, digest: digest(token) })));
  return (presented) => {
    const presentedDigest = digest(presented);
    let found: Scope | undefined;
    // No early exit; configuration keeps each token in one scope, so at most one matches.
    for (const token of known) if (timingSafeEqual(presentedDigest, token.digest)) found = token.scope;
    return found;
  };
}

/**
 * The onRequest hook that guards every route with `config.scopes` — before fastify reads the
 * body, so an unauthenticated caller cannot make the service parse a megabyte. No or an unknown
 * token → 401 (and one failure for the caller's address; past the limit → 429 with
 * Retry-After, whatever the token); a token of another scope → 403.
 */
export function authenticate(tokens: ScopeTokens, failures: AuthFailureLimiter) {
  const scopeOf = scopeResolver(tokens);
  return async function checkToken(request: FastifyRequest, reply: FastifyReply) {
    const scopes = request.routeOptions.config.scopes;
    if (scopes === undefined) return;
    const retryAfter = failures.retryAfterSeconds(request.ip);
    if (retryAfter > 0) {
      return reply
        .code(429)
        .header('retry-after', String(retryAfter))
        .send({
          error: 'too_many_requests',
          message: `too many failed authentications from this address; retry after ${retryAfter} s`,
        });
    }
    const presented = bearer(request);
    const scope = presented === undefined ? undefined : scopeOf(presented);
    if (scope === undefined) {
      failures.record(request.ip);
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({
          error: 'unauthorized',
          message: presented === undefined ? 'missing bearer token' : 'invalid bearer token',
        });
    }
    if (!scopes.includes(scope)) {
      return reply.code(403).send({
        error: 'forbidden',
        message: `this route needs a ${scopes.join(' or ')} token, not a ${scope} token`,
      });
    }
  };
}
