// Replaying a rejected Stripe event: after the fix is deployed, an operator applies the stored
// event again (`billing events replay`, POST /admin/v1/events/:eventId/replay). It goes through
// the very ingest a delivery does, from the bytes Stripe sent, so it is applied at most once
// under the account's lock like any delivery. Who replayed it, why and with what result is kept
// in StripeEventReplay. Only rejected events are replayed: the others Stripe delivers itself.
import type Stripe from 'stripe';
import { type PrismaClient } from '../platform/database.js';
import { unavailableDependency } from './dependency-errors.js';
import { type IngestResult, type StripeEventIngest } from './ingest.js';

export interface ReplayDeps {
  db: PrismaClient;
  ingest: StripeEventIngest;
}

export interface ReplayRequest {
  actor: string;
  reason: string;
}

export type ReplayOutcome =
  /** No such event in the log. */
  | { kind: 'unknown' }
  /** Not rejected (processed, ignored, orphan, stale, or still being delivered): nothing done. */
  | { kind: 'not_rejected'; status: string }
  /** Applied: its status is now the outcome's (processed, ignored, orphan or stale). */
  | { kind: 'applied'; replayId: string; result: IngestResult }
  /** Still cannot be processed: stays rejected, with the new reason. */
  | { kind: 'still_rejected'; replayId: string; result: IngestResult }
  /** A concurrent replay applied it first. */
  | { kind: 'concurrent'; replayId: string; result: IngestResult };

/** The event as Stripe sent it: the verified bytes, or the stored JSON for rows without them. */
function storedEvent(row: { rawBody: Uint8Array | null; payload: unknown }): Stripe.Event {
  if (row.rawBody) return JSON.parse(Buffer.from(row.rawBody).toString('utf8')) as Stripe.Event;
  return row.payload as Stripe.Event;
}

export async function replayRejectedEvent(
  deps: ReplayDeps,
  eventId: string,
  request: ReplayRequest,
): Promise<ReplayOutcome> {
  const row = await deps.db.stripeEventLog.findUnique({
    where: { id: eventId },
    select: { status: true, rawBody: true, payload: true },
  });
  if (!row) return { kind: 'unknown' };
  if (row.status !== 'rejected') return { kind: 'not_rejected', status: row.status };

  // Written first, so a replay that dies half-way is still on record.
  const audit = await deps.db.stripeEventReplay.create({
    data: { eventId, actor: request.actor, reason: request.reason },
    select: { id: true },
  });
  const finish = (result: string, outcome: string) =>
    deps.db.stripeEventReplay.update({
      where: { id: audit.id },
      data: { result, outcome: outcome.slice(0, 1000), finishedAt: new Date() },
    });

  let result: IngestResult;
  try {
    result = await deps.ingest(storedEvent(row), {
      replay: true,
      ...(row.rawBody ? { rawBody: Buffer.from(row.rawBody) } : {}),
    });
  } catch (error) {
    // The event stays rejected (a replay never marks it failed: Stripe will not resend it).
    const dependency = unavailableDependency(error);
    await finish('failed', dependency ? `${dependency} unavailable` : 'failed; see the service log').catch(
      () => undefined,
    );
    throw error;
  }
  await finish(result.status, result.outcome);
  if (result.status === 'rejected') return { kind: 'still_rejected', replayId: audit.id, result };
  if (result.status === 'duplicate') return { kind: 'concurrent', replayId: audit.id, result };
  return { kind: 'applied', replayId: audit.id, result };
}
