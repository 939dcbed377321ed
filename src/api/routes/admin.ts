// The admin API for operators (ADMIN_TOKEN): accounts in enforcement, one account's database
// row + the workflow's own status + audit trail, and the workflow's admin updates. Deleting
// servers or data is never something this service does: such requests are refused and audited.
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { auditTrail } from '../../accounts/audit-trail.js';
import {
  accountViewSchema,
  readAccount,
  unpaidInvoiceSchema,
  type ServicePolicy,
} from '../../accounts/read-model.js';
import { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type PrismaClient } from '../../platform/database.js';
import { GATE_STATES } from '../../gates/index.js';
import { type LadderClient } from '../../ladder/client.js';
import { adminInputSchema, extendGraceInputSchema } from '../../accounts/admin-update-schemas.js';
import { type AdminUpdateName, type EnforcementStatus } from '../../workflows/definitions.js';
import { type Scope } from '../auth.js';
import {
  accountIdSchema,
  integerString,
  notFound,
  sendError,
  timestampSchema,
  vmidSchema,
} from '../validation.js';
import { text } from '../../platform/text.js';
import { errorResponse, errorResponses, json, type ResponseDoc } from '../contract.js';

export interface AdminRouteDeps {
  db: PrismaClient;
  ladder: Pick<LadderClient, 'status' | 'update'>;
  /** The service's policy, for the read model (the minimum amount, the mode outside a ladder). */
  policy: ServicePolicy;
}

export const listAccountsQuerySchema = z
  .object({
    state: z
      .enum(GATE_STATES)
      .optional()
      .describe('only accounts in this state; default: every state but active'),
    limit: integerString(1, 500, 'limit: a whole number from 1 to 500')
      .optional()
      .describe('page size (default 50)'),
    offset: integerString(0, 1_000_000_000, 'offset: a whole number from 0')
      .optional()
      .describe('items to skip (default 0)'),
  })
  .strict();

export const accountParamsSchema = z.object({ accountId: accountIdSchema }).strict();
export const serverParamsSchema = z.object({ vmid: vmidSchema }).strict();
export const auditQuerySchema = z
  .object({
    limit: integerString(1, 1000, 'limit: a whole number from 1 to 1000')
      .optional()
      .describe('the latest this many events (default 200)'),
  })
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
  .object({ actor: text(0, 200).optional(), reason: text(0, 1000).optional() })
  .strict()
  .nullish()
  .describe('optional; without a body (or null) the audit row names the admin API');

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

const when = timestampSchema.nullable();

export const accountSummarySchema = z
  .object({
    id: z.string(),
    state: z.enum(GATE_STATES),
    overdueSince: when,
    finalWarningAt: when,
    suspendedAt: when,
    retainedAt: when,
    retainUntil: when,
    deletionReviewDueAt: when,
    backupsBlocked: z.boolean(),
    enforcementExempt: z.boolean(),
    disputed: z.boolean().describe('a dispute is open now; a restore ends it'),
    workflowId: z.string().nullable(),
    policyVersion: z
      .string()
      .nullable()
      .describe("the policy of the account's ladder (the last one once restored)"),
    updatedAt: timestampSchema,
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
    occurredAt: timestampSchema,
    createdAt: timestampSchema,
  })
  .meta({ id: 'AuditEvent' });

const serverRowSchema = z
  .object({
    id: z.string(),
    accountId: z.string(),
    vmid: z.number().int(),
    node: z.string(),
    kind: z.enum(['qemu', 'lxc']),
    name: z.string().nullable(),
  })
  .loose()
  .describe('a server of the account, with its recorded power state');

export const accountDetailSchema = z
  .object({
    account: accountSummarySchema.extend({
      stripeCustomerId: z.string().nullable(),
      email: z.string().nullable(),
      name: z.string().nullable(),
      exemptReason: z.string().nullable(),
      subscriptionStatus: z.string().nullable(),
      subscriptionEventAt: when,
      restoredAt: when,
      createdAt: timestampSchema,
      servers: z.array(serverRowSchema),
      openInvoices: z
        .array(unpaidInvoiceSchema)
        .describe('every unpaid invoice (open or uncollectible), oldest first: the same as view.invoices'),
    }),
    view: accountViewSchema.describe(
      "the account's read model: the same as the billing API's and `billing status`",
    ),
    workflow: z
      .record(z.string(), z.unknown())
      .nullable()
      .describe("the workflow's status query; null when the account never had a ladder"),
    workflowError: z.string().optional().describe('set when Temporal could not be asked'),
    audit: z.array(auditEventSchema),
  })
  .meta({ id: 'AccountDetail' });

const updateResultSchema = z
  .object({
    accountId: z.string(),
    update: z.string(),
    status: z.record(z.string(), z.unknown()).describe("the workflow's status after the update"),
  })
  .meta({ id: 'AdminUpdateResult' });

const auditListSchema = z
  .object({ accountId: z.string(), events: z.array(auditEventSchema) })
  .meta({ id: 'AuditTrail' });

/** Whoever asks for a deletion gets the same answer: a person does that, outside this service. */
const DELETE_REFUSAL =
  'Deleting servers or data is never done by the billing service. The request was refused and recorded in the audit log; deletions are a person’s decision, carried out outside this service.';

export function adminRoutes(app: FastifyInstance, deps: AdminRouteDeps) {
  /** The account's id when it exists, else null. */
  const knownAccount = async (id: string) => {
    const row = await deps.db.billingAccount.findUnique({ where: { id }, select: { id: true } });
    return row?.id ?? null;
  };
  const auth = { scopes: ['admin'] as const satisfies Scope[] };
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const admin = { tags: ['admin'] };
  const unknownAccount = { 404: errorResponse('No account with this id') };

  routes.get(
    '/admin/v1/accounts',
    {
      config: auth,
      schema: {
        ...admin,
        operationId: 'listAccounts',
        summary: 'Accounts in enforcement (every state but active unless `state` is given), paginated',
        querystring: listAccountsQuerySchema,
        response: {
          200: json(accountListSchema, 'One page'),
          ...errorResponses({
            auth: true,
            invalid: 'state, limit or offset out of range, or an unknown parameter',
          }),
        },
      },
    },
    async (request) => {
      const { state, limit = 50, offset = 0 } = request.query;
      const where = state ? { state } : { state: { not: 'active' as const } };
      const [items, total] = await Promise.all([
        deps.db.billingAccount.findMany({
          where,
          select: accountSummarySelect,
          orderBy: [{ overdueSince: { sort: 'asc', nulls: 'last' } }, { id: 'asc' }],
          take: limit,
          skip: offset,
        }),
        deps.db.billingAccount.count({ where }),
      ]);
      const next = offset + items.length;
      return {
        items,
        total,
        limit,
        offset,
        nextOffset: next < total && items.length > 0 ? next : null,
      };
    },
  );

  routes.get(
    '/admin/v1/accounts/:accountId',
    {
      config: auth,
      schema: {
        ...admin,
        operationId: 'getAccount',
        summary: "Database state, the workflow's status query and the audit trail",
        params: accountParamsSchema,
        response: {
          200: json(accountDetailSchema, 'The account'),
          ...errorResponses(
            { auth: true, pathParams: true, invalid: 'the account id breaks its pattern' },
            unknownAccount,
          ),
        },
      },
    },
    async (request, reply) => {
      const params = request.params;
      const account = await deps.db.billingAccount.findUnique({
        where: { id: params.accountId },
        include: { servers: { orderBy: { vmid: 'asc' } } },
      });
      const view = account ? await readAccount(deps.db, account.id, deps.policy) : null;
      if (!account || !view) return notFound(reply, `unknown account ${params.accountId}`);
      const audit = await auditTrail(deps.db, account.id, 200);
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
        account: { ...account, openInvoices: view.invoices },
        view,
        workflow: workflow as Record<string, unknown> | null,
        ...(workflowError ? { workflowError } : {}),
        audit,
      };
    },
  );

  routes.get(
    '/admin/v1/accounts/:accountId/audit',
    {
      config: auth,
      schema: {
        ...admin,
        operationId: 'getAudit',
        summary: 'The audit trail (BillingEnforcementEvent), oldest first',
        params: accountParamsSchema,
        querystring: auditQuerySchema,
        response: {
          200: json(auditListSchema, 'Audit events'),
          ...errorResponses(
            {
              auth: true,
              pathParams: true,
              invalid: 'the account id breaks its pattern, limit is out of range, or an unknown parameter',
            },
            unknownAccount,
          ),
        },
      },
    },
    async (request, reply) => {
      const { accountId } = request.params;
      if (!(await knownAccount(accountId))) return notFound(reply, `unknown account ${accountId}`);
      return { accountId, events: await auditTrail(deps.db, accountId, request.query.limit ?? 200) };
    },
  );

  for (const [segment, { update, schema }] of Object.entries(ADMIN_UPDATE_ROUTES)) {
    routes.post(
      `/admin/v1/accounts/:accountId/${segment}`,
      {
        config: auth,
        schema: {
          ...admin,
          operationId: `admin_${update}`,
          summary: `Workflow update \`${update}\` (validated and audited by the workflow)`,
          params: accountParamsSchema,
          body: schema,
          response: {
            200: json(updateResultSchema, "The workflow's status after the update"),
            ...errorResponses(
              {
                auth: true,
                body: true,
                pathParams: true,
                invalid:
                  'the account id breaks its pattern, or the body lacks who does it and why (or breaks their limits)',
              },
              {
                404: errorResponse('No account with this id, or no running ladder for it'),
                409: errorResponse(
                  "Rejected by the workflow's validator (e.g. already paused); nothing changed",
                ),
              },
            ),
          },
        },
      },
      async (request, reply) => {
        const { accountId } = request.params;
        if (!(await knownAccount(accountId))) return notFound(reply, `unknown account ${accountId}`);
        return runUpdate(reply, deps.ladder, accountId, update, request.body);
      },
    );
  }

  // Destructive requests: refused (403) and written to the audit log, never carried out.
  const refuse = (target: (request: FastifyRequest) => Promise<{ accountId: string | null; what: string }>) =>
    async function refuseDelete(request: FastifyRequest, reply: FastifyReply) {
      const { accountId, what } = await target(request);
      const body = request.body as z.output<typeof refusedDeleteBodySchema>;
      const actor = body?.actor || 'admin-api';
      const reason = body?.reason || null;
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
      return sendError(reply, 403, { error: 'forbidden', message: DELETE_REFUSAL });
    };

  const accountTarget = async (request: FastifyRequest) => {
    const { accountId } = request.params as { accountId: string };
    return { accountId: await knownAccount(accountId), what: `account ${accountId}` };
  };
  const serverTarget = async (request: FastifyRequest) => {
    const { vmid } = request.params as { vmid: number };
    const server = await deps.db.server.findUnique({ where: { vmid }, select: { accountId: true } });
    return { accountId: server?.accountId ?? null, what: `server ${vmid}` };
  };

  const refusal = (operationId: string, params: z.ZodType) => ({
    config: auth,
    schema: {
      ...admin,
      operationId,
      summary: 'Refused: this service never deletes servers or data (403, written to the audit log)',
      params,
      body: refusedDeleteBodySchema,
      response: errorResponses(
        {
          auth: true,
          body: true,
          pathParams: true,
          invalid:
            'a path parameter breaks its pattern, or the optional body is not an object with actor and reason strings',
        },
        {
          403: errorResponse(
            'Always refused (also with the admin token); audited as admin_delete_refused when the target is known',
          ),
        },
      ) as Record<number, ResponseDoc>,
    },
  });

  app.delete(
    '/admin/v1/accounts/:accountId',
    refusal('deleteAccountRefused', accountParamsSchema),
    refuse(accountTarget),
  );
  app.post(
    '/admin/v1/accounts/:accountId/delete-data',
    refusal('deleteDataRefused', accountParamsSchema),
    refuse(accountTarget),
  );
  app.delete(
    '/admin/v1/accounts/:accountId/servers/:vmid',
    refusal('deleteAccountServerRefused', accountParamsSchema.extend({ vmid: vmidSchema })),
    refuse(serverTarget),
  );
  app.delete(
    '/admin/v1/servers/:vmid',
    refusal('deleteServerRefused', serverParamsSchema),
    refuse(serverTarget),
  );
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
      return sendError(reply, 409, { error: 'conflict', message });
    }
    throw error;
  }
}
