// The main API's view of accounts: PUT keeps this service's copy in sync (idempotent), GET reads
// the billing state — from the database, plus the next step from the account's workflow.
import { type FastifyInstance } from 'fastify';
import { type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  AccountConflictError,
  accountSyncSchema,
  readBillingState,
  syncAccount,
} from '../../accounts/sync-account.js';
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
  dryRun: boolean;
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
    mode: z.enum(['dry-run', 'enforce']),
    overdueSince: when,
    finalWarningAt: when,
    suspendedAt: when,
    retainedAt: when,
    retainUntil: when,
    deletionReviewDueAt: when,
    restoredAt: when,
    backupsBlocked: z.boolean(),
    disputed: z.boolean(),
    enforcementExempt: z.boolean(),
    subscriptionStatus: z.string().nullable(),
    openInvoices: z.array(
      z.object({
        id: z.string(),
        status: z.string(),
        amountDue: z.number().int(),
        currency: z.string(),
        hostedInvoiceUrl: z.string().nullable(),
      }),
    ),
    amountDue: z.array(z.object({ currency: z.string(), amount: z.number().int() })),
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
      const account = await readBillingState(deps.db, params.accountId);
      if (!account) return notFound(reply, `no account ${params.accountId}`);

      // The next step and its time live in the workflow (grace extensions and pauses move them);
      // without an answer from it the rest of the view is still right.
      let workflow: 'running' | 'finished' | 'none' | 'unavailable' = 'none';
      let nextAction: EnforcementStatus['nextAction'] = null;
      if (account.workflowId || account.state !== 'active') {
        try {
          const status = await deps.ladder.status(account.id);
          if (status) {
            nextAction = status.nextAction;
            workflow = status.restored ? 'finished' : 'running';
          }
        } catch {
          workflow = 'unavailable';
        }
      }
      const totals: Record<string, number> = {};
      for (const invoice of account.invoices) {
        totals[invoice.currency] = (totals[invoice.currency] ?? 0) + invoice.amountDue;
      }
      const iso = (d: Date | null) => (d ? d.toISOString() : null);
      return {
        accountId: account.id,
        state: account.state,
        ...billingStanding(account.state),
        mode: deps.dryRun ? 'dry-run' : 'enforce',
        overdueSince: iso(account.overdueSince),
        finalWarningAt: iso(account.finalWarningAt),
        suspendedAt: iso(account.suspendedAt),
        retainedAt: iso(account.retainedAt),
        retainUntil: iso(account.retainUntil),
        deletionReviewDueAt: iso(account.deletionReviewDueAt),
        restoredAt: iso(account.restoredAt),
        backupsBlocked: account.backupsBlocked,
        disputed: account.disputed,
        enforcementExempt: account.enforcementExempt,
        subscriptionStatus: account.subscriptionStatus,
        openInvoices: account.invoices.map((i) => ({
          id: i.id,
          status: i.status,
          amountDue: i.amountDue,
          currency: i.currency,
          hostedInvoiceUrl: i.hostedInvoiceUrl,
        })),
        amountDue: Object.entries(totals).map(([currency, amount]) => ({ currency, amount })),
        nextAction: nextAction?.rung ?? null,
        nextActionAt: nextAction?.at ?? null,
        workflow: { id: workflowIdFor(account.id), status: workflow },
      } satisfies z.output<typeof billingViewSchema>;
    },
  );
}
