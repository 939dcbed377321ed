// The admin API for operators (ADMIN_TOKEN): accounts in enforcement, one account's database
// row + the workflow's own status + audit trail, and the workflow's admin updates. Deleting
// servers or data is never something this service does: such requests are refused and audited.
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { auditTrail } from '../../accounts/audit-trail.js';
import { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { type PrismaClient } from '../../platform/database.js';
import { GATE_STATES } from '../../gates/index.js';
import { type LadderClient } from '../../ladder/client.js';
import { adminInputSchema, extendGraceInputSchema } from '../../accounts/admin-update-schemas.js';
import { type AdminUpdateName, type EnforcementStatus } from '../../workflows/definitions.js';
import { type Scope } from '../auth.js';
import { accountIdSchema, notFound, parse, vmidSchema, type ErrorResponse } from '../validation.js';

export interface AdminRouteDeps {
  db: PrismaClient;
  ladder: Pick<LadderClient, 'status' | 'update'>;
}

export const listAccountsQuerySchema = z
  .object({
    state: z
      .enum(GATE_STATES)
      .optional()
      .describe('only accounts in this state; default: every state but active'),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    offset: z.coerce.number().int().min(0).default(0),
  })
  .strict();

export const accountParamsSchema = z.object({ accountId: accountIdSchema }).strict();
export const serverParamsSchema = z.object({ vmid: vmidSchema }).strict();
export const auditQuerySchema = z
  .object({ limit: z.coerce.number().int().min(1).max(1000).default(200) })
  .strict();

/** Route segment → workflow update; the body schema is the workflow validator's own. */
export const ADMIN_UPDATE_ROUTES = {
  pause: { update: 'pause', schema: adminInputSchema },
  resume: { update: 'resume', schema: adminInputSchema },
  'extend-grace': { update: 'extendGrace', schema: extendGraceInputSchema },
  'force-restore': { update: 'forceRestore', schema: adminInputSchema },
  'release-suspension-hold': { update: 'releaseSuspensionHold', schema: adminInputSchema },
  'approve-deletion-review': { update: 'approveDeletionReview', schema: adminInputSchema },
} as const satisfies Record<string, { update: AdminUpdateName; schema: z.ZodType }>;

/** Optional on a refused delete: who asked and why, for the audit row. */
export const refusedDeleteBodySchema = z
  .object({ actor: z.string().trim().max(200).optional(), reason: z.string().trim().max(1000).optional() })
  .loose()
  .optional();

const accountSummarySelect = {
  id: true,
  state: true,
  overdueSince: true,
  finalWarningAt: true,
  suspendedAt: true,
  retainedAt: true,
  retainUntil: true,
  deletionReviewDueAt: true,
  backupsBlocked: true,
  enforcementExempt: true,
  disputed: true,
  workflowId: true,
  policyVersion: true,
  updatedAt: true,
} as const;

export const accountSummarySchema = z
  .object({
    id: z.string(),
    state: z.enum(GATE_STATES),
    overdueSince: z.string().nullable(),
    finalWarningAt: z.string().nullable(),
    suspendedAt: z.string().nullable(),
    retainedAt: z.string().nullable(),
    retainUntil: z.string().nullable(),
    deletionReviewDueAt: z.string().nullable(),
    backupsBlocked: z.boolean(),
    enforcementExempt: z.boolean(),
    disputed: z.boolean(),
    workflowId: z.string().nullable(),
    policyVersion: z.string().nullable(),
    updatedAt: z.string(),
  })
  .meta({ id: 'AccountSummary' });

export const accountListSchema = z
  .object({
    items: z.array(accountSummarySchema),
    total: z.number().int(),
    limit: z.number().int(),
    offset: z.number().int(),
    nextOffset: z.number().int().nullable(),
  })
  .meta({ id: 'AccountList' });

export const auditEventSchema = z
  .object({
    id: z.string(),
    kind: z.string(),
    step: z.string().nullable(),
    actor: z.string(),
    reason: z.string().nullable(),
    dryRun: z.boolean(),
    detail: z.unknown(),
    occurredAt: z.string(),
    createdAt: z.string(),
  })
  .meta({ id: 'AuditEvent' });

export const accountDetailSchema = z
  .object({
    account: accountSummarySchema.extend({
      stripeCustomerId: z.string().nullable(),
      email: z.string().nullable(),
      name: z.string().nullable(),
      exemptReason: z.string().nullable(),
      subscriptionStatus: z.string().nullable(),
      restoredAt: z.string().nullable(),
      servers: z.array(z.record(z.string(), z.unknown())),
      openInvoices: z.array(z.record(z.string(), z.unknown())),
    }),
    workflow: z
      .record(z.string(), z.unknown())
      .nullable()
      .describe("the workflow's status query; null when the account never had a ladder"),
    workflowError: z.string().optional().describe('set when Temporal could not be asked'),
    audit: z.array(auditEventSchema),
  })
  .meta({ id: 'AccountDetail' });

/** Whoever asks for a deletion gets the same answer: a person does that, outside this service. */
const DELETE_REFUSAL =
  'Deleting servers or data is never done by the billing service. The request was refused and recorded in the audit log; deletions are a person’s decision, carried out outside this service.';

export function adminRoutes(app: FastifyInstance, deps: AdminRouteDeps) {
  const auth = { scopes: ['admin'] as const satisfies Scope[] };

  app.get('/admin/v1/accounts', { config: auth }, async (request, reply) => {
    const query = parse(reply, 'query', listAccountsQuerySchema, request.query);
    if (!query) return reply;
    const where = query.state ? { state: query.state } : { state: { not: 'active' as const } };
    const [items, total] = await Promise.all([
      deps.db.billingAccount.findMany({
        where,
        select: accountSummarySelect,
        orderBy: [{ overdueSince: { sort: 'asc', nulls: 'last' } }, { id: 'asc' }],
        take: query.limit,
        skip: query.offset,
      }),
      deps.db.billingAccount.count({ where }),
    ]);
    const next = query.offset + items.length;
    return {
      items,
      total,
      limit: query.limit,
      offset: query.offset,
      nextOffset: next < total && items.length > 0 ? next : null,
    };
  });

  app.get('/admin/v1/accounts/:accountId', { config: auth }, async (request, reply) => {
    const params = parse(reply, 'params', accountParamsSchema, request.params);
    if (!params) return reply;
    const account = await deps.db.billingAccount.findUnique({
      where: { id: params.accountId },
      include: {
        servers: { orderBy: { vmid: 'asc' } },
        invoices: { where: { status: 'open' }, orderBy: { lastEventCreatedAt: 'asc' } },
      },
    });
    if (!account) return notFound(reply, `unknown account ${params.accountId}`);
    const audit = await auditTrail(deps.db, account.id, 200);
    const { invoices, ...rest } = account;
    let workflow: EnforcementStatus | null = null;
    let workflowError: string | undefined;
    try {
      workflow = await deps.ladder.status(account.id);
    } catch (error) {
      // The database half is still worth showing when Temporal is down.
      workflowError = error instanceof Error ? error.message : String(error);
      request.log.warn({ accountId: account.id, err: workflowError }, 'status query failed');
    }
    return {
      account: { ...rest, openInvoices: invoices },
      workflow,
      ...(workflowError ? { workflowError } : {}),
      audit,
    };
  });

  app.get('/admin/v1/accounts/:accountId/audit', { config: auth }, async (request, reply) => {
    const params = parse(reply, 'params', accountParamsSchema, request.params);
    if (!params) return reply;
    const query = parse(reply, 'query', auditQuerySchema, request.query);
    if (!query) return reply;
    const exists = await deps.db.billingAccount.findUnique({
      where: { id: params.accountId },
      select: { id: true },
    });
    if (!exists) return notFound(reply, `unknown account ${params.accountId}`);
    return { accountId: params.accountId, events: await auditTrail(deps.db, params.accountId, query.limit) };
  });

  for (const [segment, { update, schema }] of Object.entries(ADMIN_UPDATE_ROUTES)) {
    app.post(`/admin/v1/accounts/:accountId/${segment}`, { config: auth }, async (request, reply) => {
      const params = parse(reply, 'params', accountParamsSchema, request.params);
      if (!params) return reply;
      const body = parse(reply, 'body', schema, request.body);
      if (!body) return reply;
      const exists = await deps.db.billingAccount.findUnique({
        where: { id: params.accountId },
        select: { id: true },
      });
      if (!exists) return notFound(reply, `unknown account ${params.accountId}`);
      return runUpdate(reply, deps.ladder, params.accountId, update, body);
    });
  }

  // Destructive requests: refused (403) and written to the audit log, never carried out.
  const refuse = (target: (request: FastifyRequest) => Promise<{ accountId: string | null; what: string }>) =>
    async function refuseDelete(request: FastifyRequest, reply: FastifyReply) {
      const { accountId, what } = await target(request);
      const body = refusedDeleteBodySchema.safeParse(request.body);
      const actor = (body.success && body.data?.actor) || 'admin-api';
      const reason = (body.success && body.data?.reason) || null;
      if (accountId) {
        await deps.db.billingEnforcementEvent.create({
          data: {
            accountId,
            kind: 'admin_delete_refused',
            actor,
            reason,
            detail: { request: `${request.method} ${request.routeOptions.url}`, target: what },
            idempotencyKey: `admin_delete_refused:${randomUUID()}`,
          },
        });
      }
      request.log.warn({ accountId, target: what }, 'refused a request to delete servers or data');
      return reply.code(403).send({ error: 'forbidden', message: DELETE_REFUSAL } satisfies ErrorResponse);
    };

  const knownAccount = async (id: unknown) => {
    const parsed = accountIdSchema.safeParse(id);
    if (!parsed.success) return null;
    const row = await deps.db.billingAccount.findUnique({ where: { id: parsed.data }, select: { id: true } });
    return row?.id ?? null;
  };
  const accountTarget = async (request: FastifyRequest) => {
    const { accountId } = request.params as { accountId?: string };
    return { accountId: await knownAccount(accountId), what: `account ${accountId}` };
  };
  const serverTarget = async (request: FastifyRequest) => {
    const { vmid } = request.params as { vmid?: string };
    const parsed = vmidSchema.safeParse(vmid);
    const server = parsed.success
      ? await deps.db.server.findUnique({ where: { vmid: parsed.data }, select: { accountId: true } })
      : null;
    return { accountId: server?.accountId ?? null, what: `server ${vmid}` };
  };

  app.delete('/admin/v1/accounts/:accountId', { config: auth }, refuse(accountTarget));
  app.post('/admin/v1/accounts/:accountId/delete-data', { config: auth }, refuse(accountTarget));
  app.delete('/admin/v1/accounts/:accountId/servers/:vmid', { config: auth }, refuse(serverTarget));
  app.delete('/admin/v1/servers/:vmid', { config: auth }, refuse(serverTarget));
}

async function runUpdate(
  reply: FastifyReply,
  ladder: AdminRouteDeps['ladder'],
  accountId: string,
  update: AdminUpdateName,
  input: z.infer<typeof extendGraceInputSchema> | z.infer<typeof adminInputSchema>,
) {
  try {
    // The workflow validates again, applies the update and writes the audit row itself.
    const status = await ladder.update(accountId, update, input);
    return { accountId, update, status };
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) {
      return notFound(reply, `no running enforcement ladder for account ${accountId}`);
    }
    if (error instanceof WorkflowUpdateFailedError) {
      // Rejected by the workflow's validator (e.g. "already paused by …"): nothing changed.
      const message = error.cause?.message ?? error.message;
      return reply.code(409).send({ error: 'conflict', message } satisfies ErrorResponse);
    }
    throw error;
  }
}
