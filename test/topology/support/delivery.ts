// Stripe's side of the webhook, behind a load balancer: each delivery goes to the next HTTP
// service in turn; a refused connection or a non-2xx answer is delivered again (to the next
// service, as a balancer would route it) after a growing backoff, compressed from Stripe's hours
// to seconds, until it is accepted or its time runs out.
import http from 'node:http';
import { postWebhook, stripeDeliveryHeaders } from '../../../bench/lib.js';
import { sleep, WEBHOOK_SECRET } from '../../faults/support/processes.js';

export interface DeliveryLog {
  /** Every POST made, by HTTP status (0: no answer). */
  statuses: Map<number, number>;
  attempts: number;
  /** Accepted deliveries by the HTTP service's port: the balancer spreads them over both. */
  acceptedByPort: Map<number, number>;
  /** Event ids never accepted before their time ran out. */
  gaveUp: string[];
}

export function createDeliverer(ports: () => number[], options: { giveUpAfterMs: number }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const log: DeliveryLog = { statuses: new Map(), attempts: 0, acceptedByPort: new Map(), gaveUp: [] };
  let turn = 0;
  /** When the event was first sent, and when accepted (2xx; null when it never was). */
  async function deliver(event: { id: string }): Promise<{ firstSentAt: number; acceptedAt: number | null }> {
    const body = JSON.stringify(event);
    const firstSentAt = Date.now();
    const deadline = firstSentAt + options.giveUpAfterMs;
    for (let attempt = 0; ; attempt++) {
      const all = ports();
      const port = all[turn++ % all.length]!;
      log.attempts++;
      const { status } = await postWebhook(agent, port, body, stripeDeliveryHeaders(body, WEBHOOK_SECRET));
      log.statuses.set(status, (log.statuses.get(status) ?? 0) + 1);
      if (status >= 200 && status < 300) {
        log.acceptedByPort.set(port, (log.acceptedByPort.get(port) ?? 0) + 1);
        return { firstSentAt, acceptedAt: Date.now() };
      }
      if (Date.now() > deadline) {
        log.gaveUp.push(event.id);
        return { firstSentAt, acceptedAt: null };
      }
      await sleep(Math.min(5000, 250 * 2 ** attempt));
    }
  }
  return { deliver, log, close: () => agent.destroy() };
}
