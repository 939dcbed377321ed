// Connections that would hold the service: malformed requests, oversized headers, idle keep-alive
// sockets and slow senders get an answer in the one error body, or are closed.
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TIMEOUTS } from '../../src/api/app.js';
import { buildTestApp } from './support/http.js';

const client = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
const { app } = buildTestApp({ client, taskQueue: `tq-${randomUUID()}` });
let port = 0;

beforeAll(async () => {
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as net.AddressInfo).port;
});
afterAll(async () => {
  await app.close();
});

/** Writes raw bytes, collects what the server answers until it closes the connection. */
function raw(
  request: string,
  options: { waitMs?: number } = {},
): Promise<{ text: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString()));
    socket.on('error', reject);
    socket.on('close', () => resolve({ text, closedAfterMs: Date.now() - started }));
    socket.setTimeout(options.waitMs ?? 20_000, () => {
      socket.destroy();
      reject(new Error(`no close within ${options.waitMs ?? 20_000} ms; got: ${text.slice(0, 200)}`));
    });
  });
}

function bodyOf(text: string) {
  return JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
}

describe('limits', () => {
  it('headers over 16 KiB → 431 in the error body, connection closed', async () => {
    const { text } = await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(text).toMatch(/^HTTP\/1\.1 431 /);
    const body = bodyOf(text);
    expect(body.error).toBe('request_header_fields_too_large');
    expect(body.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a malformed request → 400 in the error body', async () => {
    const { text } = await raw('NONSENSE\r\n\r\n');
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(bodyOf(text)).toMatchObject({ error: 'bad_request' });
  });

  it(`an idle keep-alive connection is closed after ${TIMEOUTS.keepAliveTimeout} ms`, async () => {
    const { text, closedAfterMs } = await raw(
      'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n',
    );
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(closedAfterMs).toBeGreaterThanOrEqual(TIMEOUTS.keepAliveTimeout - 500);
    expect(closedAfterMs).toBeLessThan(TIMEOUTS.keepAliveTimeout + 4_000);
  });

  it(`a sender that never finishes its headers is cut off (headers within ${TIMEOUTS.headersTimeout} ms)`, async () => {
    const { closedAfterMs } = await raw('GET /healthz HTTP/1.1\r\nHost: x\r\n', { waitMs: 60_000 });
    // Node looks for late requests every 2 s: allow for that and a loaded machine.
    expect(closedAfterMs).toBeGreaterThanOrEqual(TIMEOUTS.headersTimeout - 500);
    expect(closedAfterMs).toBeLessThan(TIMEOUTS.headersTimeout + 8_000);
    expect(app.server.requestTimeout).toBe(TIMEOUTS.requestTimeout);
    expect(app.server.headersTimeout).toBe(TIMEOUTS.headersTimeout);
  }, 60_000);
});
