// Billing-channel digests: the posts of many ladders go out as Discord messages of up to 10
// embeds, so a herd's rung fits Discord's ~30 messages a minute per channel (2,000 posts are 200
// messages, under 7 minutes, instead of 67). One digest per worker process collects what its
// notifyDiscord activities hand it; each activity waits for the message that carries its row.
//
// The in-flight guarantee of the ledger holds per message: every row of a message is marked
// `sendingAt` in one statement right before the request, and recorded sent in one statement
// after the answer. A worker that dies in between leaves every row of the message marked; each
// row's next attempt finds its mark and records it unconfirmed instead of posting it again.
import { AsyncResource } from 'node:async_hooks';
import { type PrismaClient } from '../platform/database.js';
import {
  MAX_EMBED_TEXT_PER_MESSAGE,
  MAX_EMBEDS_PER_MESSAGE,
  PermanentDeliveryError,
  type ChatMessage,
  type ChatNotifier,
} from '../adapters/ports/notifications.js';
import { embedTextLength } from '../adapters/discord/chat.js';

/** How long the first post of a digest waits for others (a herd's rung arrives within it). */
export const DIGEST_GATHER_MS = 1000;

interface Entry {
  rowId: string;
  message: ChatMessage;
  size: number;
  /** Posted in a message of its own: an earlier digest with it was refused (Discord's 4xx). */
  alone: boolean;
  /**
   * The submitting activity's async context: a message is posted in its first row's, so what
   * the post does (logs, heartbeats, the fault suite's kill points) belongs to a live activity.
   */
  scope: AsyncResource;
  /** Activities waiting for this row (a retry that overlaps its earlier attempt joins it). */
  waiters: { resolve: (r: DigestResult) => void; reject: (e: unknown) => void }[];
}

/** The message went out but recording it failed: its rows must stay marked as in flight. */
export class PostedNotRecordedError extends Error {
  constructor(override readonly cause: unknown) {
    super(`posted, but recording it failed: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'PostedNotRecordedError';
  }
}

export interface DigestResult {
  providerMessageId: string | null;
  /** How many rows the message carried. */
  rows: number;
}

export interface DiscordDigest {
  /**
   * Posts the row's message in the next digest; resolves once the message is posted and every row
   * in it is recorded sent. Rejects with the provider's error (nothing in doubt: marks cleared).
   */
  submit(rowId: string, message: ChatMessage): Promise<DigestResult>;
}

export function createDiscordDigest(deps: {
  db: PrismaClient;
  chat: ChatNotifier;
  /** 'logged' for a recording adapter, otherwise 'sent'. */
  sentStatus: 'sent' | 'logged';
  gatherMs?: number;
  sleep?: (ms: number) => Promise<void>;
}): DiscordDigest {
  const { db, chat } = deps;
  const postMany = chat.postMany?.bind(chat);
  const gatherMs = deps.gatherMs ?? DIGEST_GATHER_MS;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const queue: Entry[] = [];
  const byRow = new Map<string, Entry>();
  let running = false;

  /** The oldest rows that fit one message: 10 embeds, 6,000 characters. */
  function nextBatch(): Entry[] {
    const first = queue[0]!;
    if (first.alone) return queue.splice(0, 1);
    let text = 0;
    let n = 0;
    while (n < queue.length && n < MAX_EMBEDS_PER_MESSAGE) {
      const e = queue[n]!;
      if (e.alone || (n > 0 && text + e.size > MAX_EMBED_TEXT_PER_MESSAGE)) break;
      text += e.size;
      n++;
    }
    return queue.splice(0, n);
  }

  async function post(batch: Entry[]) {
    const ids = batch.map((e) => e.rowId);
    const messages = batch.map((e) => e.message);
    const beforeRequest = async () => {
      await db.notification.updateMany({ where: { id: { in: ids } }, data: { sendingAt: new Date() } });
    };
    let providerMessageId: string | null;
    try {
      ({ providerMessageId } = postMany
        ? await postMany('billing', messages, { beforeRequest })
        : await chat.post('billing', messages[0]!, { beforeRequest }));
    } catch (error) {
      // Answered (or never sent): nothing of this message is in doubt.
      await db.notification
        .updateMany({ where: { id: { in: ids } }, data: { sendingAt: null } })
        .catch(() => undefined);
      if (error instanceof PermanentDeliveryError && batch.length > 1) {
        // One bad embed must not fail the others: each goes again in a message of its own.
        for (const e of batch) e.alone = true;
        queue.unshift(...batch);
        return;
      }
      settle(batch, (w) => w.reject(error));
      return;
    }
    try {
      await db.notification.updateMany({
        where: { id: { in: ids } },
        data: {
          status: deps.sentStatus,
          providerMessageId,
          sentAt: new Date(),
          sendingAt: null,
          attempts: { increment: 1 },
          error: null,
        },
      });
    } catch (error) {
      // Posted, not recorded: the marks stay, so the next attempts record the rows unconfirmed
      // rather than post them again.
      settle(batch, (w) => w.reject(new PostedNotRecordedError(error)));
      return;
    }
    settle(batch, (w) => w.resolve({ providerMessageId, rows: batch.length }));
  }

  function settle(batch: Entry[], each: (w: Entry['waiters'][number]) => void) {
    for (const e of batch) {
      byRow.delete(e.rowId);
      for (const w of e.waiters) each(w);
    }
  }

  async function drain() {
    running = true;
    try {
      while (queue.length > 0) {
        // A lone post waits a moment for company; a full message goes at once.
        if (queue.length < MAX_EMBEDS_PER_MESSAGE && !queue[0]!.alone) await sleep(gatherMs);
        const batch = nextBatch();
        await batch[0]!.scope.runInAsyncScope(() => post(batch));
      }
    } finally {
      running = false;
    }
  }

  return {
    submit(rowId, message) {
      return new Promise<DigestResult>((resolve, reject) => {
        const waiter = { resolve, reject };
        const existing = byRow.get(rowId);
        if (existing) {
          existing.waiters.push(waiter);
          return;
        }
        const entry: Entry = {
          rowId,
          message,
          size: embedTextLength(message),
          alone: !postMany,
          scope: new AsyncResource('DiscordDigestEntry'),
          waiters: [waiter],
        };
        byRow.set(rowId, entry);
        queue.push(entry);
        if (!running) void drain();
      });
    },
  };
}
