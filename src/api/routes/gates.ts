// The internal gate API (docs/design.md, "Gates") for the main API and the controller: one indexed lookup
// of the account's billing row, then the pure gate. Dry-run is the mode of the account's own ladder
// (the configured policy's for an account whose ladder recorded none): gates.gateStanding.
import { type FastifyInstance } from 'fastify';
import { type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type PrismaClient } from '../../platform/database.js';
import {
  evaluateGate,
  gateStanding,
  GATE_ACTIONS,
  GATE_CODES,
  GATE_STATES,
  type GateDecision,
} from '../../gates/index.js';
import { gateDecisions } from '../../platform/observability/metrics.js';
import { createGateAccountLookup, type GateAccount } from '../sql/gate-account.js';
import { type Scope } from '../auth.js';
import { accountIdSchema, notFound, vmidNumberSchema, vmidSchema } from '../validation.js';
import { errorResponse, errorResponses, json } from '../contract.js';

export interface GateRouteDeps {
  db: PrismaClient;
  /** ENFORCEMENT_MODE=dry-run (policy.dryRun): the mode of accounts whose ladder recorded none. */
  dryRun: boolean;
  /** With a URL, the gate lookups get a small pool of their own (see sql/gate-account.ts). */
  databaseUrl?: string;
}

export const gateActionSchema = z.enum(GATE_ACTIONS).describe('what the caller wants to do');

export const gateCheckBodySchema = z
  .object({
    accountId: accountIdSchema.optional().describe('the account (give this or serverVmid)'),
    serverVmid: vmidNumberSchema.optional().describe('a server of the account (give this or accountId)'),
    action: gateActionSchema,
  })
  .strict()
  .refine((b) => (b.accountId === undefined) !== (b.serverVmid === undefined), {
    message: 'give exactly one of accountId and serverVmid',
    path: ['accountId'],
  })
  // The refinement, as JSON Schema says it: exactly one of the two.
  .meta({
    id: 'GateCheckRequest',
    oneOf: [
      { required: ['accountId'], not: { required: ['serverVmid'] } },
      { required: ['serverVmid'], not: { required: ['accountId'] } },
    ],
  });

const wouldBeSchema = z.object({
  allowed: z.boolean(),
  code: z.enum(GATE_CODES),
  message: z.string(),
});

export const gateDecisionSchema = z
  .object({
    allowed: z.boolean(),
    code: z.enum(GATE_CODES).describe('BILLING_OK whenever allowed; otherwise why not'),
    message: z.string().describe('customer-facing; safe to show as is'),
    action: gateActionSchema,
    state: z.enum(GATE_STATES),
    accountId: z.string(),
    serverVmid: z.number().int().optional(),
    dryRun: z.boolean().describe('the answer was relaxed (dry-run mode or an exempt account)'),
    relaxedBy: z.enum(['dry-run', 'exempt']).optional(),
    wouldBe: wouldBeSchema.optional().describe('present when dryRun: what enforcement would have answered'),
  })
  .meta({ id: 'GateDecision' });

export const vmidParamsSchema = z.object({ vmid: vmidSchema }).strict();

export type GateDecisionResponse = z.infer<typeof gateDecisionSchema>;

function count(decision: GateDecision) {
  // In dry-run the answer is always BILLING_OK; labelling with the would-be code keeps the
  // denials operators are about to switch on visible (allowed="true" with a denial code).
  gateDecisions.inc({
    action: decision.action,
    code: decision.wouldBe?.code ?? decision.code,
    allowed: String(decision.allowed),
  });
}

export function gateRoutes(app: FastifyInstance, deps: GateRouteDeps) {
  // The main API asks every gate; the controller's token opens only repair-allowed.
  const mainApi = { scopes: ['internal'] as const satisfies Scope[] };
  const mainApiOrController = { scopes: ['internal', 'controller'] as const satisfies Scope[] };
  const lookup = createGateAccountLookup({
    db: deps.db,
    databaseUrl: deps.databaseUrl,
    onPoolError: (error) => app.log.warn({ err: error.message }, 'gate database pool error'),
  });
  app.addHook('onClose', () => lookup.close());

  const decide = (account: GateAccount, action: GateDecision['action'], serverVmid?: number) => {
    const { state, flags } = gateStanding(account, { dryRun: deps.dryRun });
    const decision = evaluateGate(state, flags, action);
    count(decision);
    return {
      ...decision,
      accountId: account.id,
      ...(serverVmid === undefined ? {} : { serverVmid }),
    } satisfies GateDecisionResponse;
  };

  const routes = app.withTypeProvider<ZodTypeProvider>();
  routes.post(
    '/v1/gates/check',
    {
      config: mainApi,
      schema: {
        tags: ['internal'],
        operationId: 'checkGate',
        summary: 'May the account (or the account of a server) do this action?',
        description:
          "Give exactly one of accountId and serverVmid. While the account's ladder runs in dry-run (and for exempt accounts) every answer is allowed, with `wouldBe` saying what enforcement would have answered. A ladder that switched to enforce, or was braked back to dry-run, is answered by the rung it enforced for real (`state`).",
        body: gateCheckBodySchema,
        response: {
          200: json(gateDecisionSchema, 'The decision'),
          ...errorResponses(
            {
              auth: true,
              body: true,
              invalid:
                'the body breaks a rule of GateCheckRequest (exactly one of accountId and serverVmid, a known action, no other fields)',
            },
            { 404: errorResponse('Unknown account, or a vmid no account has') },
          ),
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (body.serverVmid !== undefined) {
        const account = await lookup.byVmid(body.serverVmid);
        if (!account) return notFound(reply, `unknown server ${body.serverVmid}`);
        return decide(account, body.action, body.serverVmid);
      }
      const account = await lookup.byId(body.accountId!);
      if (!account) return notFound(reply, `unknown account ${body.accountId}`);
      return decide(account, body.action);
    },
  );

  // For the controller/reconciler: may it repair (edge, DNS, proxy, restart) this server?
  routes.get(
    '/v1/servers/:vmid/repair-allowed',
    {
      config: mainApiOrController,
      schema: {
        tags: ['internal'],
        operationId: 'repairAllowed',
        summary: 'For the controller: may it repair (edge, DNS, proxy, restart) this server?',
        params: vmidParamsSchema,
        response: {
          200: json(gateDecisionSchema, 'The decision'),
          ...errorResponses(
            { auth: true, pathParams: true, invalid: 'the vmid is not a whole number from 1 to 2147483647' },
            { 404: errorResponse('No account has a server with this vmid') },
          ),
        },
      },
    },
    async (request, reply) => {
      const { vmid } = request.params;
      const account = await lookup.byVmid(vmid);
      if (!account) return notFound(reply, `unknown server ${vmid}`);
      return decide(account, 'controller.repair', vmid);
    },
  );
}
