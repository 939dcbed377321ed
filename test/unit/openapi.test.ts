// /openapi.json is generated from the routes' schemas; this pins what it must say: every status
// each route can answer, the rules the service enforces (the gate check's accountId | serverVmid,
// the webhook's Stripe-Signature header and raw Stripe event, id patterns, vmid range, limits),
// the one error body with its request id, and the bearer security of each route. Dropping a
// status or a rule from a route's schema fails here.
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/api/app.js';
import { loadConfig } from '../../src/platform/config.js';
import { createPrisma } from '../../src/platform/database.js';
import { createLogger } from '../../src/platform/logger.js';
import { validEnv } from './support/config.js';

interface Schema {
  $ref?: string;
  type?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  oneOf?: Schema[];
  required?: string[];
  properties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  propertyNames?: Schema;
  [key: string]: unknown;
}
interface Operation {
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string; required?: boolean; schema: Schema }[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<
    string,
    {
      description: string;
      headers?: Record<string, { required?: boolean }>;
      content?: Record<string, { schema: Schema }>;
    }
  >;
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; securitySchemes: Record<string, Record<string, string>> };
}

const db = createPrisma('postgresql://u:p@127.0.0.1:9/never');
const temporal = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
const app = buildServer({
  config: loadConfig({ ...validEnv, LOG_LEVEL: 'silent' }),
  db,
  temporal,
  logger: createLogger('silent'),
});
let doc: Document;

beforeAll(async () => {
  const response = await app.inject({ method: 'GET', url: '/openapi.json' });
  expect(response.statusCode).toBe(200);
  doc = response.json<Document>();
});
afterAll(async () => {
  await app.close();
  await db.$disconnect();
});

const op = (method: string, path: string) => {
  const found = doc.paths[path]?.[method];
  if (!found) throw new Error(`no ${method.toUpperCase()} ${path} in the document`);
  return found;
};
const resolve = (schema: Schema): Schema =>
  schema.$ref ? resolve(doc.components.schemas[schema.$ref.replace('#/components/schemas/', '')]!) : schema;
const param = (operation: Operation, name: string) => {
  const found = operation.parameters?.find((p) => p.name === name);
  if (!found) throw new Error(`no parameter ${name}`);
  return found;
};

// Every request can be malformed (400), too slow (408), have oversized headers (431) or meet a bug (500).
const ANY = [400, 408, 431, 500];
// A token route: no or a wrong token, another scope's token, too many failures (or requests).
const TOKEN = [401, 403, 429];
const BODY = [413, 415];
const PATH = [414];
const STATUSES: [string, string, number[]][] = [
  ['get', '/healthz', [200, ...ANY]],
  ['get', '/readyz', [200, 503, ...ANY]],
  ['get', '/metrics', [200, ...ANY]],
  ['get', '/openapi.json', [200, 429, ...ANY]],
  ['post', '/webhooks/stripe', [200, 429, 503, ...ANY, ...BODY]],
  ['put', '/v1/accounts/{accountId}', [200, 201, 409, ...ANY, ...TOKEN, ...BODY, ...PATH]],
  ['get', '/v1/accounts/{accountId}/billing', [200, 404, ...ANY, ...TOKEN, ...PATH]],
  ['post', '/v1/gates/check', [200, 404, ...ANY, ...TOKEN, ...BODY]],
  ['get', '/v1/servers/{vmid}/repair-allowed', [200, 404, ...ANY, ...TOKEN, ...PATH]],
  ['get', '/api/announcements', [200, 404, ...ANY, ...TOKEN]],
  ['get', '/admin/v1/accounts', [200, ...ANY, ...TOKEN]],
  ['get', '/admin/v1/accounts/{accountId}', [200, 404, ...ANY, ...TOKEN, ...PATH]],
  ['get', '/admin/v1/accounts/{accountId}/audit', [200, 404, ...ANY, ...TOKEN, ...PATH]],
  ...[
    'pause',
    'resume',
    'extend-grace',
    'force-restore',
    'release-suspension-hold',
    'approve-deletion-review',
  ].map((update): [string, string, number[]] => [
    'post',
    `/admin/v1/accounts/{accountId}/${update}`,
    [200, 404, 409, ...ANY, ...TOKEN, ...BODY, ...PATH],
  ]),
  ['get', '/admin/v1/policy', [200, ...ANY, ...TOKEN]],
  ['get', '/admin/v1/policy/plan', [200, 503, ...ANY, ...TOKEN]],
  ['post', '/admin/v1/policy/apply', [200, 503, ...ANY, ...TOKEN, ...BODY]],
  ['get', '/admin/v1/events', [200, ...ANY, ...TOKEN]],
  [
    'post',
    '/admin/v1/events/{eventId}/replay',
    [200, 404, 409, 422, 503, ...ANY, ...TOKEN, ...BODY, ...PATH],
  ],
  ['delete', '/admin/v1/accounts/{accountId}', [...ANY, ...TOKEN, ...BODY, ...PATH]],
  ['post', '/admin/v1/accounts/{accountId}/delete-data', [...ANY, ...TOKEN, ...BODY, ...PATH]],
  ['delete', '/admin/v1/accounts/{accountId}/servers/{vmid}', [...ANY, ...TOKEN, ...BODY, ...PATH]],
  ['delete', '/admin/v1/servers/{vmid}', [...ANY, ...TOKEN, ...BODY, ...PATH]],
];

describe('GET /openapi.json', () => {
  it('is OpenAPI 3.1 with every route and nothing else', () => {
    expect(doc.openapi).toBe('3.1.0');
    const listed = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => `${method} ${path}`),
    );
    expect(listed.sort()).toEqual(STATUSES.map(([method, path]) => `${method} ${path}`).sort());
  });

  it.each(STATUSES)('%s %s lists exactly the statuses it can answer', (method, path, statuses) => {
    const responses = op(method, path).responses;
    expect(Object.keys(responses).map(Number).sort()).toEqual([...statuses].sort());
    for (const [status, response] of Object.entries(responses)) {
      expect(response.description, `${status} has a description`).not.toMatch(/^Default Response$/);
      // Every error answer is the one error body.
      if (Number(status) >= 400 && !(path === '/readyz' && status === '503')) {
        expect(response.content?.['application/json']?.schema).toEqual({
          $ref: '#/components/schemas/Error',
        });
      }
    }
  });

  it('the error body names its fields and always carries the request id', () => {
    const error = doc.components.schemas.Error!;
    expect(Object.keys(error.properties ?? {}).sort()).toEqual(['error', 'fields', 'message', 'requestId']);
    expect(error.required?.sort()).toEqual(['error', 'message', 'requestId']);
    expect(error.additionalProperties).toBe(false);
  });

  it('each token route names the bearer schemes of the scopes it admits; 401 and 429 carry their headers', () => {
    for (const scope of ['internal', 'controller', 'portal', 'admin']) {
      expect(doc.components.securitySchemes[`${scope}Token`]).toMatchObject({
        type: 'http',
        scheme: 'bearer',
      });
    }
    const scopes = (method: string, path: string) => {
      if (path.startsWith('/admin/')) return ['admin'];
      if (path === '/v1/servers/{vmid}/repair-allowed') return ['internal', 'controller'];
      if (path === '/api/announcements') return ['portal', 'internal'];
      return ['internal'];
    };
    for (const [method, path, statuses] of STATUSES) {
      const operation = op(method, path);
      if (!statuses.includes(401)) {
        expect(operation.security, `${method} ${path} takes no token`).toBeUndefined();
        continue;
      }
      expect(operation.security, `${method} ${path}`).toEqual(
        scopes(method, path).map((scope) => ({ [`${scope}Token`]: [] })),
      );
      expect(operation.responses['401']!.headers?.['WWW-Authenticate']?.required).toBe(true);
    }
    for (const [method, path, statuses] of STATUSES) {
      if (statuses.includes(429)) {
        expect(
          op(method, path).responses['429']!.headers?.['Retry-After']?.required,
          `${method} ${path}`,
        ).toBe(true);
      }
    }
  });

  it('POST /v1/gates/check: exactly one of accountId and serverVmid, no other fields', () => {
    const body = resolve(op('post', '/v1/gates/check').requestBody!.content['application/json']!.schema);
    expect(body.oneOf).toEqual([
      { required: ['accountId'], not: { required: ['serverVmid'] } },
      { required: ['serverVmid'], not: { required: ['accountId'] } },
    ]);
    expect(body.required).toEqual(['action']);
    expect(body.additionalProperties).toBe(false);
    expect(body.properties?.accountId?.pattern).toBe('^[A-Za-z0-9_.:-]{1,100}$');
    expect(body.properties?.serverVmid).toMatchObject({ type: 'integer', minimum: 1, maximum: 2147483647 });
  });

  it("POST /webhooks/stripe: the Stripe-Signature header is required and the body is Stripe's raw event", () => {
    const webhook = op('post', '/webhooks/stripe');
    const header = param(webhook, 'stripe-signature');
    expect(header).toMatchObject({ in: 'header', required: true });
    expect(header.schema.pattern).toBe('^t=[0-9]+(,[a-z0-9]+=[^,]+)+$');
    expect(webhook.responses['400']!.description).toMatch(/signature/);
    expect(webhook.responses['503']!.headers?.['Retry-After']?.required).toBe(true);
    const event = resolve(webhook.requestBody!.content['application/json']!.schema);
    expect(event.required).toEqual(['id', 'object', 'type', 'created', 'data']);
    expect(event.properties?.id?.pattern).toBe('^evt_[A-Za-z0-9_]+$');
    expect(webhook.security).toBeUndefined();
  });

  it('ids, vmids and limits carry their rules', () => {
    for (const [method, path] of [
      ['put', '/v1/accounts/{accountId}'],
      ['get', '/v1/accounts/{accountId}/billing'],
      ['get', '/admin/v1/accounts/{accountId}'],
    ] as const) {
      expect(param(op(method, path), 'accountId').schema.pattern).toBe('^[A-Za-z0-9_.:-]{1,100}$');
    }
    expect(param(op('get', '/api/announcements'), 'accountId')).toMatchObject({
      required: true,
      schema: { pattern: '^[A-Za-z0-9_.:-]{1,100}$' },
    });
    for (const path of ['/v1/servers/{vmid}/repair-allowed', '/admin/v1/servers/{vmid}']) {
      const method = path.startsWith('/admin') ? 'delete' : 'get';
      expect(param(op(method, path), 'vmid').schema).toEqual({
        type: 'integer',
        minimum: 1,
        maximum: 2147483647,
      });
    }
    const list = op('get', '/admin/v1/accounts');
    expect(param(list, 'limit').schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 500 });
    expect(param(list, 'offset').schema).toMatchObject({ type: 'integer', minimum: 0 });
    expect(param(op('get', '/admin/v1/accounts/{accountId}/audit'), 'limit').schema).toMatchObject({
      maximum: 1000,
    });
    const sync = resolve(
      op('put', '/v1/accounts/{accountId}').requestBody!.content['application/json']!.schema,
    );
    expect(sync.additionalProperties).toBe(false);
    expect(sync.properties?.servers).toMatchObject({ maxItems: 1000 });
    const pause = resolve(
      op('post', '/admin/v1/accounts/{accountId}/pause').requestBody!.content['application/json']!.schema,
    );
    expect(pause.required?.sort()).toEqual(['actor', 'reason']);
    expect(pause.properties?.reason?.pattern).toMatch(/u0000/);
  });

  it('the billing API, the admin API and the announcements answer from one read model', () => {
    const body = (method: string, path: string) =>
      resolve(op(method, path).responses['200']!.content!['application/json']!.schema);
    const billing = body('get', '/v1/accounts/{accountId}/billing');
    const detail = body('get', '/admin/v1/accounts/{accountId}');
    // The admin API carries the whole view; the billing API the same invoices and records.
    expect(detail.properties?.view).toMatchObject({ $ref: '#/components/schemas/AccountView' });
    const view = resolve(doc.components.schemas.AccountView!);
    for (const field of [
      'invoices',
      'amountDue',
      'ladderAmountDue',
      'dispute',
      'lastDispute',
      'deletionReview',
      'lastDeletionReview',
      'lastRestore',
      'policyVersion',
      'mode',
    ]) {
      expect(view.required, field).toContain(field);
    }
    for (const field of [
      'ladderAmountDue',
      'dispute',
      'lastDispute',
      'deletionReview',
      'lastDeletionReview',
      'lastRestore',
      'policyVersion',
    ]) {
      expect(billing.required, field).toContain(field);
    }
    const unpaid = resolve(doc.components.schemas.UnpaidInvoice!);
    expect(unpaid.required).toContain('drivesLadder');
    expect(unpaid.properties?.status).toMatchObject({ enum: ['open', 'uncollectible'] });
    const items = (s: Schema | undefined) => (s?.items as Schema | undefined)?.$ref;
    expect(items(billing.properties?.openInvoices)).toBe('#/components/schemas/UnpaidInvoice');
    expect(items(view.properties?.invoices)).toBe('#/components/schemas/UnpaidInvoice');
    const restore = resolve(doc.components.schemas.RestoreRecord!);
    expect(restore.properties?.reason).toMatchObject({
      enum: ['paid', 'voided', 'force_restore', 'settled'],
    });
    const announcement = resolve(doc.components.schemas.Announcement!);
    expect(announcement.required).toContain('invoices');
  });

  it('a refused delete takes an optional body', () => {
    expect(op('delete', '/admin/v1/servers/{vmid}').requestBody?.required).toBe(false);
    expect(op('post', '/v1/gates/check').requestBody?.required).toBe(true);
  });
});
