// What the HTTP service's request log lines may carry: the path, never the query string (a
// caller's `?token=` or an email would otherwise sit in the logs verbatim).
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { expect, it } from 'vitest';
import { createLogger } from '../../src/platform/logger.js';

it('logs the request path without its query string', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const app = Fastify({ loggerInstance: createLogger('info', 'test', sink) });
  app.get('/v1/accounts/:accountId/billing', () => ({ ok: true }));
  await app.inject({ method: 'GET', url: '/v1/accounts/acct_1/billing?token=s3cret-value&email=a%40b.test' });
  await app.close();
  const incoming = lines
    .map((l) => JSON.parse(l) as { msg: string; req?: { url?: string } })
    .find((l) => l.msg === 'incoming request');
  expect(incoming?.req?.url).toBe('/v1/accounts/acct_1/billing');
  expect(lines.join('')).not.toMatch(/s3cret-value|a%40b\.test/);
});
