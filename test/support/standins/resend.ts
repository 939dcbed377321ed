// Stands in for Resend's POST /emails: checks the API key, validates the fields Resend
// requires, and honours Idempotency-Key as Resend does (same key and payload within 24 h: the
// original answer again, nothing delivered twice; same key, other payload: 409).
import { createHash, randomUUID } from 'node:crypto';
import { startStandin, type Reply, type Standin } from './http.js';

export interface DeliveredEmail {
  id: string;
  idempotencyKey: string | undefined;
  from: string;
  to: string | string[];
  subject: string;
  text?: string;
  html?: string;
  reply_to?: string | string[];
}

export interface ResendStandin extends Standin {
  apiKey: string;
  /** Emails Resend would have delivered: one per accepted, non-replayed request. */
  delivered: DeliveredEmail[];
}

const DAY_MS = 86_400_000;

export const resendError = (status: number, name: string, message: string): Reply => ({
  status,
  body: { statusCode: status, name, message },
});
export const resendRateLimited = (retryAfterSeconds: number): Reply => ({
  ...resendError(429, 'rate_limit_exceeded', 'Too many requests. You can only make 2 requests per second.'),
  headers: { 'retry-after': String(retryAfterSeconds) },
});
export const resendServerError = (): Reply => resendError(500, 'internal_server_error', 'Unexpected error');
export const resendValidationError = (): Reply =>
  resendError(
    400,
    'validation_error',
    'Invalid `to` field. The email address needs to follow the `email@example.com` format.',
  );

export async function startResendStandin(apiKey = 're_standin_key'): Promise<ResendStandin> {
  const delivered: DeliveredEmail[] = [];
  const seen = new Map<string, { fingerprint: string; reply: Reply; at: number }>();
  const standin = await startStandin((req) => {
    if (req.method !== 'POST' || req.path !== '/emails') return resendError(404, 'not_found', 'Not found');
    if (req.headers.authorization !== `Bearer ${apiKey}`)
      return resendError(401, 'invalid_api_key', 'API key is invalid');
    const body = JSON.parse(req.body) as Omit<DeliveredEmail, 'id' | 'idempotencyKey'>;
    const missing = (['from', 'to', 'subject'] as const).filter((f) => !body[f]);
    if (missing.length) return resendError(422, 'missing_required_field', `Missing \`${missing[0]}\` field.`);
    if (!body.text && !body.html)
      return resendError(422, 'validation_error', 'Missing `html` or `text` field.');
    const key = req.headers['idempotency-key'] as string | undefined;
    const fingerprint = createHash('sha256').update(req.body).digest('hex');
    if (key) {
      const previous = seen.get(key);
      if (previous && Date.now() - previous.at < DAY_MS) {
        if (previous.fingerprint !== fingerprint)
          return resendError(
            409,
            'invalid_idempotent_request',
            'Same idempotency key used with a different request payload.',
          );
        return previous.reply;
      }
    }
    const id = randomUUID();
    delivered.push({ id, idempotencyKey: key, ...body });
    const reply: Reply = { status: 200, body: { id } };
    if (key) seen.set(key, { fingerprint, reply, at: Date.now() });
    return reply;
  });
  return Object.assign(standin, { apiKey, delivered });
}
