// 1,000 hostile or broken deliveries to POST /webhooks/stripe over a real socket: random bytes,
// random JSON, mutations of a valid signed event (flipped bytes, truncation), broken, missing,
// repeated and huge Stripe-Signature headers, wrong content types, oversized bodies, and valid
// signatures over JSON that is not an event. Nothing may crash the service or answer 5xx
// (except the designed 503), and a rejected request changes no row.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { Client, Connection } from '@temporalio/client';
import { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/platform/config.js';
import { createPrisma, type PrismaClient } from '../../src/platform/database.js';
import { postWebhook } from '../../bench/lib.js';
import { buildServer } from '../../src/api/app.js';
import { createLogger } from '../../src/platform/logger.js';
import { signPayload, simulatedEvent } from '../../src/webhook/event-builders.js';
import { createLadderClient } from '../../src/ladder/client.js';
import { ADMIN_TOKEN, INTERNAL_TOKEN, WEBHOOK_SECRET } from './support/processes.js';

const CASES = 1000;

/** Deterministic, so a failing case can be replayed with FUZZ_SEED. */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Case {
  kind: string;
  body: Buffer;
  headers: Record<string, string | string[]>;
}

describe('webhook fuzz', () => {
  let db: PrismaClient;
  let app: FastifyInstance;
  let port: number;
  let temporal: Client;
  const seed = Number(process.env.FUZZ_SEED ?? 20261126);

  beforeAll(async () => {
    db = createPrisma(inject('databaseUrl'), { max: 4 });
    // Nothing listens there: a delivery that gets as far as Temporal must answer the designed 503.
    temporal = new Client({ connection: Connection.lazy({ address: '127.0.0.1:9' }) });
    const config = loadConfig({
      DATABASE_URL: inject('databaseUrl'),
      INTERNAL_API_TOKEN: INTERNAL_TOKEN,
      ADMIN_TOKEN,
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      LOG_LEVEL: 'silent',
    });
    const logger = createLogger('silent');
    app = buildServer({
      config,
      db,
      temporal,
      logger,
      ladder: createLadderClient({
        client: temporal,
        taskQueue: 'faults-fuzz',
        policy: config.policy,
        rpcTimeoutMs: 1000,
      }),
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await app?.close();
    await db?.$disconnect();
  });

  it('no crash, no unexpected 5xx, no state change from a rejected request', async () => {
    const random = prng(seed);
    const int = (n: number) => Math.floor(random() * n);
    const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
    const randomBytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
    const randomJson = (depth = 0): unknown => {
      const r = int(depth > 3 ? 4 : 7);
      if (r === 0) return null;
      if (r === 1) return random() * 1e6 - 5e5;
      if (r === 2) return randomUUID();
      if (r === 3) return random() < 0.5;
      if (r === 4) return Array.from({ length: int(4) }, () => randomJson(depth + 1));
      return Object.fromEntries(
        Array.from({ length: int(5) }, () => [
          pick(['id', 'type', 'object', 'data', 'created', randomUUID().slice(0, 6)]),
          randomJson(depth + 1),
        ]),
      );
    };

    // A known account: a valid event for it reaches the ladder client (Temporal is down: 503).
    const accountId = `fuzz_${randomUUID().slice(0, 8)}`;
    await db.billingAccount.create({ data: { id: accountId, stripeCustomerId: `cus_${accountId}` } });
    const validEvent = () =>
      JSON.stringify(
        simulatedEvent(pick(['payment-failed', 'paid', 'voided', 'subscription-updated'] as const), {
          customer: random() < 0.5 ? `cus_${accountId}` : `cus_unknown_${int(1000)}`,
        }),
      );
    const json = 'application/json; charset=utf-8';
    const signed = (body: string, at?: number) => signPayload(body, WEBHOOK_SECRET, at);
    const now = () => Math.floor(Date.now() / 1000);

    const generators: Record<string, () => Case> = {
      'random bytes': () => ({
        kind: 'random bytes',
        body: randomBytes(1 + int(2000)),
        headers: { 'content-type': json, 'stripe-signature': signed('x') },
      }),
      'random JSON, signed': () => {
        const body = JSON.stringify(randomJson());
        return {
          kind: 'random JSON, signed',
          body: Buffer.from(body),
          headers: { 'content-type': json, 'stripe-signature': signed(body) },
        };
      },
      'random JSON, unsigned': () => ({
        kind: 'random JSON, unsigned',
        body: Buffer.from(JSON.stringify(randomJson())),
        headers: { 'content-type': json },
      }),
      'flipped bytes': () => {
        const body = validEvent();
        const bytes = Buffer.from(body);
        for (let n = 1 + int(4); n > 0; n--) {
          const at = int(bytes.length);
          bytes[at] = bytes[at]! ^ (1 << int(8));
        }
        return {
          kind: 'flipped bytes',
          body: bytes,
          headers: { 'content-type': json, 'stripe-signature': signed(body) },
        };
      },
      truncated: () => {
        const body = validEvent();
        return {
          kind: 'truncated',
          body: Buffer.from(body.slice(0, int(body.length))),
          headers: { 'content-type': json, 'stripe-signature': signed(body) },
        };
      },
      'signature: wrong secret': () => {
        const body = validEvent();
        return {
          kind: 'signature: wrong secret',
          body: Buffer.from(body),
          headers: {
            'content-type': json,
            'stripe-signature': signPayload(body, 'whsec_not_ours_0123456789'),
          },
        };
      },
      'signature: mangled': () => {
        const body = validEvent();
        const good = signed(body);
        const variants = [
          '',
          ' ',
          't=',
          `t=${now()}`,
          good.replace(/t=\d+,?/, ''),
          good.replace(/v1=[0-9a-f]+/, 'v1='),
          good.replace(/v1=([0-9a-f]+)/, (_m, h: string) => `v1=${h.slice(0, -1)}0`),
          `${good},${good}`,
          `t=${now()},t=${now() - 10_000},${good.split(',')[1]}`,
          good.replace(/t=\d+/, 't=abc'),
          good.replace(/t=\d+/, `t=${now() - 3600}`),
          good.replace(/t=\d+/, `t=${now() + 3600}`),
          'v0=deadbeef',
          good.toUpperCase(),
          `${good},v1=${'f'.repeat(64)}`,
          `t=${'9'.repeat(40)},v1=00`,
        ];
        return {
          kind: 'signature: mangled',
          body: Buffer.from(body),
          headers: { 'content-type': json, 'stripe-signature': pick(variants) },
        };
      },
      'signature: missing': () => ({
        kind: 'signature: missing',
        body: Buffer.from(validEvent()),
        headers: { 'content-type': json },
      }),
      'signature: repeated header': () => {
        const body = validEvent();
        return {
          kind: 'signature: repeated header',
          body: Buffer.from(body),
          headers: { 'content-type': json, 'stripe-signature': [signed(body), signed(body)] },
        };
      },
      'huge header': () => {
        const body = validEvent();
        return {
          kind: 'huge header',
          body: Buffer.from(body),
          headers: {
            'content-type': json,
            'stripe-signature': `${signed(body)},v1=${'a'.repeat(1000 + int(15_000))}`,
            'x-padding': 'p'.repeat(int(8000)),
          },
        };
      },
      'wrong content type': () => {
        const body = validEvent();
        return {
          kind: 'wrong content type',
          body: Buffer.from(body),
          headers: {
            'content-type': pick([
              'text/plain',
              'application/x-www-form-urlencoded',
              'multipart/form-data; boundary=x',
              'application/xml',
              'application/json; charset=utf-16',
              'application/jsonx',
              '',
              '*/*',
            ]),
            'stripe-signature': signed(body),
          },
        };
      },
      'signed non-event JSON': () => {
        const body = JSON.stringify(
          pick([
            {},
            [],
            'string',
            42,
            null,
            { type: 'invoice.payment_failed' },
            {
              id: 'evt_x',
              object: 'event',
              type: 'invoice.payment_failed',
              created: now(),
              data: { object: null },
            },
            { id: 'evt_x', object: 'event', type: 'invoice.payment_failed', created: now(), data: {} },
            { id: 'evt_../../x', object: 'event', type: 'x', created: now(), data: { object: {} } },
            {
              id: `evt_${randomUUID().replace(/-/g, '')}`,
              object: 'event',
              type: '',
              created: now(),
              data: { object: {} },
            },
            {
              id: `evt_${randomUUID().replace(/-/g, '')}`,
              object: 'event',
              type: 'invoice.payment_failed',
              created: -1,
              data: { object: {} },
            },
            randomJson(),
          ]),
        );
        return {
          kind: 'signed non-event JSON',
          body: Buffer.from(body),
          headers: { 'content-type': json, 'stripe-signature': signed(body) },
        };
      },
      'signed event, odd object': () => {
        // Valid envelope and signature, an object that is not what the type promises.
        const event = {
          id: `evt_${randomUUID().replace(/-/g, '')}`,
          object: 'event',
          type: pick([
            'invoice.payment_failed',
            'invoice.paid',
            'charge.dispute.created',
            'customer.subscription.updated',
          ]),
          created: now(),
          data: {
            object: pick([
              {},
              { id: 'in_x' },
              { id: 'in_x', customer: 123 },
              { id: 'in_x', customer: { id: null } },
              randomJson(),
            ]),
          },
        };
        const body = JSON.stringify(event);
        return {
          kind: 'signed event, odd object',
          body: Buffer.from(body),
          headers: { 'content-type': json, 'stripe-signature': signed(body) },
        };
      },
      oversized: () => {
        const body = `{"id":"evt_big","pad":"${'x'.repeat(1024 * 1024 + int(100_000))}"}`;
        return {
          kind: 'oversized',
          body: Buffer.from(body),
          headers: { 'content-type': json, 'stripe-signature': signed(body) },
        };
      },
      'valid event': () => {
        const body = validEvent();
        return {
          kind: 'valid event',
          body: Buffer.from(body),
          headers: { 'content-type': json, 'stripe-signature': signed(body) },
        };
      },
    };

    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const send = async (c: Case) => (await postWebhook(agent, port, c.body, c.headers)).status;
    const counts = async () => {
      const [events, invoices, accounts, notifications, audit] = await Promise.all([
        db.stripeEventLog.count(),
        db.invoice.count(),
        db.billingAccount.count(),
        db.notification.count(),
        db.billingEnforcementEvent.count(),
      ]);
      return { events, invoices, accounts, notifications, audit };
    };

    const kinds = Object.keys(generators);
    const byKindStatus = new Map<string, Map<number, number>>();
    const unexpected5xx: { kind: string; status: number; body: string }[] = [];
    const changedByRejected: { kind: string; status: number }[] = [];
    for (let i = 0; i < CASES; i++) {
      const c = generators[kinds[i % kinds.length]!]!();
      const before = await counts();
      const status = await send(c);
      const after = await counts();
      const perKind = byKindStatus.get(c.kind) ?? new Map<number, number>();
      perKind.set(status, (perKind.get(status) ?? 0) + 1);
      byKindStatus.set(c.kind, perKind);
      if (status >= 500 && status !== 503)
        unexpected5xx.push({ kind: c.kind, status, body: c.body.toString('utf8', 0, 300) });
      if (
        (status < 200 || status >= 300) &&
        status !== 503 &&
        JSON.stringify(before) !== JSON.stringify(after)
      ) {
        changedByRejected.push({ kind: c.kind, status });
      }
    }
    agent.destroy();
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);

    const table = [...byKindStatus].map(([kind, s]) => `${kind}: ${JSON.stringify(Object.fromEntries(s))}`);
    const rejected = [...byKindStatus.values()].reduce(
      (n, s) => n + [...s].filter(([st]) => st >= 400 && st < 500).reduce((m, [, c]) => m + c, 0),
      0,
    );
    process.stderr.write(
      `[faults] fuzz (seed ${seed}): ${CASES} requests, ${rejected} rejected with 4xx, ` +
        `unexpected 5xx ${unexpected5xx.length}, rows changed by a rejected request ${changedByRejected.length}, ` +
        `service alive ${health.status === 200}\n[faults]   ${table.join('\n[faults]   ')}\n`,
    );
    if (unexpected5xx.length)
      process.stderr.write(`[faults] first 5xx: ${JSON.stringify(unexpected5xx.slice(0, 3))}\n`);

    expect(health.status).toBe(200);
    expect(unexpected5xx).toEqual([]);
    expect(changedByRejected).toEqual([]);
  });
});
