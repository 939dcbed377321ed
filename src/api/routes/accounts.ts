// The main API's view of accounts: PUT keeps this service's copy in sync (idempotent), GET reads
// the billing state — from the database, plus the next step from the account's workflow.
import { type FastifyInstance } from 'fastify';
import { type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AccountConflictError, accountSyncSchema, syncAccount } from '../../accounts/sync-account.js';
import {
  accountViewSchema,
  readAccount,
  unpaidInvoiceSchema,
  type ServicePolicy,
} from '../../accounts/read-model.js';
import { type PrismaClient } from '../../platform/database.js';
import { billingStanding, GATE_CODES, GATE_STATES } from '../../gates/index.js';
import { type LadderClient } from '../../ladder/client.js';
import { workflowIdFor, type EnforcementStatus } from '../../workflows/definitions.js';
import { type Scope } from '../auth.js';
import { accountIdSchema, notFound, sendError } from '../validation.js';
import { errorResponse, errorResponses, json } from '../contract.js';

export interface AccountRoutesDeps {
  db: PrismaClient;
  ladder: LadderClient;
  /** The service's policy: the minimum amount that drives a ladder, the mode outside one. */
  policy: ServicePolicy;
}

export const accountParamsSchema = z.object({ accountId: accountIdSchema }).strict();

const when = z.iso.datetime().nullable();
export const syncResultSchema = z
  .object({
    accountId: z.string(),
    created: z.boolean(),
    servers: z.object({
      added: z.number(),
      updated: z.number(),
      removed: z.number(),
      keptSuspended: z
        .array(z.number())
        .describe('dropped from the list but suspended by this service: kept'),
    }),
  })
  .meta({ id: 'AccountSyncResult' });

export const billingViewSchema = z
  .object({
    accountId: z.string(),
    state: z.enum(GATE_STATES),
    code: z.enum(GATE_CODES).describe('the code of the rung the account is on'),
    message: z.string().describe('customer-facing'),
    mode: accountViewSchema.shape.mode,
    policyVersion: accountViewSchema.shape.policyVersion,
    overdueSince: when,
    finalWarningAt: when,
    suspendedAt: when,
    retainedAt: when,
    retainUntil: when,
    deletionReviewDueAt: when,
    restoredAt: when,
    backupsBlocked: z.boolean(),
    disputed: z.boolean().describe('a dispute is open now; a restore ends it (see lastDispute)'),
    enforcementExempt: z.boolean(),
    subscriptionStatus: z.string().nullable(),
    openInvoices: z
      .array(unpaidInvoiceSchema)
      .describe('every unpaid invoice (open or uncollectible), oldest first'),
    amountDue: accountViewSchema.shape.amountDue,
    ladderAmountDue: accountViewSchema.shape.ladderAmountDue,
    dispute: accountViewSchema.shape.dispute,
    lastDispute: accountViewSchema.shape.lastDispute,
    deletionReview: accountViewSchema.shape.deletionReview,
    lastDeletionReview: accountViewSchema.shape.lastDeletionReview,
    lastRestore: accountViewSchema.shape.lastRestore,
    nextAction: z.enum(['final_warning', 'suspended', 'retained', 'deletion_review']).nullable(),
    nextActionAt: when,
    workflow: z.object({
      id: z.string(),
      status: z.enum(['running', 'finished', 'none', 'unavailable']),
    }),
  })
  .meta({ id: 'AccountBilling' });

export function accountRoutes(app: FastifyInstance, deps: AccountRoutesDeps) {
  const internal = { scopes: ['internal'] as const satisfies Scope[] };
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.put(
    '/v1/accounts/:accountId',
    {
      config: internal,
      schema: {
        tags: ['internal'],
        operationId: 'syncAccount',
        summary: 'Create or update an account and its servers (idempotent)',
        params: accountParamsSchema,
        body: accountSyncSchema,
        response: {
          200: json(syncResultSchema, 'Updated (or unchanged)'),
          201: json(syncResultSchema, 'Created'),
          ...errorResponses(
            {
              auth: true,
              body: true,
              pathParams: true,
              invalid: 'the account id or the body breaks a rule of AccountSync',
            },
            {
              409: errorResponse(
                'The Stripe customer or a server belongs to another account, or a vmid is listed twice with different details; `fields` names it. Nothing was changed.',
              ),
            },
          ),
        },
      },
    },
    async (request, reply) => {
      try {
        const result = await syncAccount(deps.db, request.params.accountId, request.body);
        request.log.info(
          { accountId: result.accountId, created: result.created, servers: result.servers },
          'account synced',
        );
        return reply.code(result.created ? 201 : 200).send(result);
      } catch (error) {
        if (error instanceof AccountConflictError) {
          return sendError(reply, 409, {
            error: 'conflict',
            message: error.message,
            fields: { [`body.${error.field}`]: [error.message] },
          });
        }
        throw error;
      }
    },
  );

  routes.get(
    '/v1/accounts/:accountId/billing',
    {
      config: internal,
      schema: {
        tags: ['internal'],
        operationId: 'billingView',
        summary: "The account's billing state, timestamps, code and customer-facing message",
        params: accountParamsSchema,
        response: {
          200: json(billingViewSchema, 'Billing view'),
          ...errorResponses(
            { auth: true, pathParams: true, invalid: 'the account id breaks its pattern' },
            { 404: errorResponse('No account with this id') },
          ),
        },
      },
    },
    async (request, reply) => {
      const params = request.params;
      const view = await readAccount(deps.db, params.accountId, deps.policy);
      if (!view) return notFound(reply, `no account ${params.accountId}`);

      // The next step and its time live in the workflow (grace extensions and pauses move them);
      // without an answer from it the rest of the view is still right.
      let workflow: 'running' | 'finished' | 'none' | 'unavailable' = 'none';
      let nextAction: EnforcementStatus['nextAction'] = null;
      if (view.workflowId || view.state !== 'active') {
        try {
          const status = await deps.ladder.status(view.accountId);
          if (status) {
            nextAction = status.nextAction;
            workflow = status.restored ? 'finished' : 'running';
          }
        } catch {
          workflow = 'unavailable';
        }
      }
      return {
        accountId: view.accountId,
        state: view.state,
        ...billingStanding(view.state),
        mode: view.mode,
        policyVersion: view.policyVersion,
        overdueSince: view.overdueSince,
        finalWarningAt: view.finalWarningAt,
        suspendedAt: view.suspendedAt,
        retainedAt: view.retainedAt,
        retainUntil: view.retainUntil,
        deletionReviewDueAt: view.deletionReview?.dueAt ?? null,
        restoredAt: view.lastRestore?.at ?? null,
        backupsBlocked: view.flags.backupsBlocked,
        disputed: view.flags.disputed,
        enforcementExempt: view.flags.enforcementExempt,
        subscriptionStatus: view.subscriptionStatus,
        openInvoices: view.invoices,
        amountDue: view.amountDue,
        ladderAmountDue: view.ladderAmountDue,
        dispute: view.dispute,
        lastDispute: view.lastDispute,
        deletionReview: view.deletionReview,
        lastDeletionReview: view.lastDeletionReview,
        lastRestore: view.lastRestore,
        nextAction: nextAction?.rung ?? null,
        nextActionAt: nextAction?.at ?? null,
        workflow: { id: workflowIdFor(view.accountId), status: workflow },
      } satisfies z.output<typeof billingViewSchema>;
    },
  );
}
