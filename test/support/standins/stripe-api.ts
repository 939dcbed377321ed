// A local stand-in for the parts of Stripe's REST API this service reads (invoices and charges),
// speaking its wire format: form-encoded queries, list envelopes with cursor pagination, and
// Stripe's error body. The real stripe SDK talks to it through its host/port/protocol options.
import http from 'node:http';
import { type AddressInfo } from 'node:net';

export interface StripeStandIn {
  url: string;
  invoices: Map<string, Record<string, unknown>>;
  charges: Map<string, Record<string, unknown>>;
  requests: { method: string; path: string; authorization?: string }[];
  close(): Promise<void>;
}

function notFound(res: http.ServerResponse, kind: string, id: string) {
  res.writeHead(404, { 'content-type': 'application/json', 'request-id': 'req_standin' });
  res.end(
    JSON.stringify({
      error: {
        code: 'resource_missing',
        doc_url: 'https://stripe.com/docs/error-codes/resource-missing',
        message: `No such ${kind}: '${id}'`,
        param: 'id',
        type: 'invalid_request_error',
      },
    }),
  );
}

export async function startStripeStandIn(): Promise<StripeStandIn> {
  const invoices = new Map<string, Record<string, unknown>>();
  const charges = new Map<string, Record<string, unknown>>();
  const requests: StripeStandIn['requests'] = [];

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      authorization: req.headers.authorization,
    });
    if (!req.headers.authorization?.startsWith('Bearer sk_')) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } }),
      );
      return;
    }
    const send = (body: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_standin' });
      res.end(JSON.stringify(body));
    };
    const invoiceMatch = /^\/v1\/invoices\/([^/]+)$/.exec(url.pathname);
    const chargeMatch = /^\/v1\/charges\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && url.pathname === '/v1/invoices') {
      const status = url.searchParams.get('status');
      const limit = Math.min(Number(url.searchParams.get('limit') ?? 10), 100);
      const after = url.searchParams.get('starting_after');
      // Stripe lists newest first.
      let all = [...invoices.values()]
        .filter((i) => !status || i.status === status)
        .sort((a, b) => Number(b.created) - Number(a.created));
      if (after) all = all.slice(all.findIndex((i) => i.id === after) + 1);
      send({ object: 'list', data: all.slice(0, limit), has_more: all.length > limit, url: '/v1/invoices' });
      return;
    }
    if (req.method === 'GET' && invoiceMatch) {
      const invoice = invoices.get(decodeURIComponent(invoiceMatch[1]!));
      if (invoice) send(invoice);
      else notFound(res, 'invoice', invoiceMatch[1]!);
      return;
    }
    if (req.method === 'GET' && chargeMatch) {
      const charge = charges.get(decodeURIComponent(chargeMatch[1]!));
      if (charge) send(charge);
      else notFound(res, 'charge', chargeMatch[1]!);
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        error: {
          type: 'invalid_request_error',
          message: `Unrecognized request URL (${req.method}: ${url.pathname})`,
        },
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    invoices,
    charges,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
