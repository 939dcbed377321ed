// Delivering Stripe-shaped, Stripe-signed events to the app the way Stripe does.
import { type FastifyInstance } from 'fastify';
import { signPayload } from '../../../src/webhook/event-builders.js';
import { db } from './harness.js';
import { WEBHOOK_SECRET } from './http.js';

export async function deliver(
  app: FastifyInstance,
  event: unknown,
  options: { secret?: string; timestamp?: number; body?: string; headers?: Record<string, string> } = {},
) {
  const payload = options.body ?? JSON.stringify(event);
  const response = await app.inject({
    method: 'POST',
    url: '/webhooks/stripe',
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'stripe-signature': signPayload(payload, options.secret ?? WEBHOOK_SECRET, options.timestamp),
      ...options.headers,
    },
    payload,
  });
  return {
    status: response.statusCode,
    body: response.json<{ status?: string; outcome?: string; error?: string }>(),
  };
}

export function logRow(eventId: string) {
  return db().stripeEventLog.findUnique({ where: { id: eventId } });
}
