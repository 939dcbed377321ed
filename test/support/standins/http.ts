// A local HTTP(S) server standing in for a provider's API: it records every request and answers
// through the provider's own behaviour (a handler), unless a test has queued a scripted answer.
import http from 'node:http';
import https from 'node:https';
import { type AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Milliseconds since the stand-in started. */
  at: number;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON. */
  body?: unknown;
}

/**
 * A queued answer: a fixed reply, or `handle-then-drop`: the provider does the work (e.g.
 * delivers the email) and the connection dies before the answer arrives, as when a worker
 * crashes between sending and recording.
 */
export type Scripted = Reply | 'handle-then-drop';

export type Handler = (request: RecordedRequest) => Reply | Promise<Reply>;

export interface Standin {
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Queues answers for the next requests, in order; the handler answers once they run out. */
  script(...replies: Scripted[]): void;
  /**
   * An outage: for the next `ms`, every request is answered with these replies in turn (after
   * any scripted ones), and the provider does nothing; then it works again.
   */
  failFor(ms: number, ...replies: Reply[]): void;
  close(): Promise<void>;
}

export async function startStandin(
  handler: Handler,
  options: { tls?: { key: string | Buffer; cert: string | Buffer } } = {},
): Promise<Standin> {
  const requests: RecordedRequest[] = [];
  const queue: Scripted[] = [];
  const started = Date.now();
  let outage: { until: number; replies: Reply[]; answered: number } | undefined;
  const outageReply = (): Reply | undefined => {
    if (!outage || Date.now() >= outage.until) return undefined;
    return outage.replies[outage.answered++ % outage.replies.length];
  };
  const listener: http.RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://standin');
      const recorded: RecordedRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now() - started,
      };
      requests.push(recorded);
      const scripted = queue.shift();
      void (async () => {
        try {
          if (scripted === 'handle-then-drop') {
            await handler(recorded);
            req.socket.destroy();
            return;
          }
          const reply = scripted ?? outageReply() ?? (await handler(recorded));
          const isJson = reply.body !== undefined && typeof reply.body !== 'string';
          const payload =
            reply.body === undefined ? '' : isJson ? JSON.stringify(reply.body) : (reply.body as string);
          res.writeHead(reply.status, {
            ...(isJson ? { 'content-type': 'application/json' } : {}),
            ...reply.headers,
          });
          res.end(payload);
        } catch (error) {
          res.writeHead(599);
          res.end(String(error));
        }
      })();
    });
  };
  const server = options.tls
    ? https.createServer({ key: options.tls.key, cert: options.tls.cert }, listener)
    : http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    requests,
    script: (...replies) => queue.push(...replies),
    failFor: (ms, ...replies) => {
      if (replies.length === 0) throw new Error('failFor needs at least one reply');
      outage = { until: Date.now() + ms, replies, answered: 0 };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
