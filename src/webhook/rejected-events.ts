// A verified event this version of the code cannot process is rejected: stored with its reason
// (and the verified bytes), answered 2xx so Stripe stops retrying, and alerted to ops once —
// the alert's key is the event id, so Stripe's redeliveries and replays never post it again.
// The alert carries the event id, its type and the reason (field names and rules, never values):
// no customer data, no payload.
import type Stripe from 'stripe';
import { type OpsAlert } from '../notifications/ops-alerts.js';

/** A Stripe event type as Stripe spells them; anything else is not repeated in an alert. */
export function displayType(type: unknown): string {
  return typeof type === 'string' && /^[a-z0-9_.]{1,100}$/.test(type) ? type : '(unreadable type)';
}

export function rejectedEventAlert(event: Pick<Stripe.Event, 'id' | 'type'>, reason: string): OpsAlert {
  return {
    accountId: null,
    key: `stripe:${event.id}:rejected`,
    title: 'Stripe event rejected',
    detail:
      `${displayType(event.type)} ${event.id} cannot be processed by this version of the service: ${reason}. ` +
      'It is stored as rejected and was answered 2xx, so Stripe does not send it again. ' +
      'Fix the cause (usually the code), deploy, then apply it: ' +
      `\`billing events replay ${event.id} --actor <you> --reason <why>\` ` +
      `(or POST /admin/v1/events/${event.id}/replay).`,
  };
}

/** What is stored about the failure itself (database only: it may quote the event's values). */
export function failureDetail(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
