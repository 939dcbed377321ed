// The internal gate API (docs/design.md, "Gates") for the main API and the controller: one indexed lookup
// of the account's billing row, then the pure gate. Dry-run comes from the configured policy.
import { type FastifyInstance } from 'fastify';
import pg from 'pg';
import { z } from 'zod';
import { type PrismaClient } from '../../platform/database.js';
import { evaluateGate, GATE_ACTIONS, GATE_CODES, GATE_STATES, type GateDecision } from '../../gates/index.js';
import { gateDecisions } from '../../platform/observability/metrics.js';
import { requireToken, type Tokens } from '../auth.js';
import { accountIdSchema, notFound, parse, vmidNumberSchema, vmidSchema } from '../validation.js';

export interface GateRouteDeps {
  db: PrismaClient;
  tokens: Tokens;
  /** ENFORCEMENT_MODE=dry-run (policy.dryRun). */
  dryRun: boolean;
  /**
   * With a URL, the gate lookups get a small pool of their own and skip Prisma: at hundreds of
   * checks a second the query builder costs more CPU than the query (see bench/gates.ts).
   */
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
  .meta({ id: 'GateCheckRequest' });

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

interface GateAccount {
  id: string;
  state: GateDecision['state'];
  backupsBlocked: boolean;
  enforcementExempt: boolean;
}

const BY_ID = `SELECT id, state::text AS state, "backupsBlocked", "enforcementExempt"
  FROM "BillingAccount" WHERE id = $1`;
const BY_VMID = `SELECT a.id, a.state::text AS state, a."backupsBlocked", a."enforcementExempt"
  FROM "Server" s JOIN "BillingAccount" a ON a.id = s."accountId" WHERE s.vmid = $1`;

/** One row by the primary key or the unique vmid: the whole database cost of a gate check. */
function accountLookup(app: FastifyInstance, deps: GateRouteDeps) {
  if (!deps.databaseUrl) {
    const run = async (sql: string, value: string | number) =>
      (await deps.db.$queryRawUnsafe<GateAccount[]>(sql, value))[0] ?? null;
    return { byId: (id: string) => run(BY_ID, id), byVmid: (vmid: number) => run(BY_VMID, vmid) };
  }
  const pool = new pg.Pool({ connectionString: deps.databaseUrl, max: 8 });
  pool.on('error', (error) => app.log.warn({ err: error.message }, 'gate database pool error'));
  app.addHook('onClose', () => pool.end());
  const run = async (name: string, text: string, value: string | number) =>
    (await pool.query<GateAccount>({ name, text, values: [value] })).rows[0] ?? null;
  return {
    byId: (id: string) => run('gate_account_by_id', BY_ID, id),
    byVmid: (vmid: number) => run('gate_account_by_vmid', BY_VMID, vmid),
  };
}

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
  const auth = requireToken('internal', deps.tokens);
  const lookup = accountLookup(app, deps);

  const decide = (account: GateAccount, action: GateDecision['action'], serverVmid?: number) => {
    const decision = evaluateGate(
      account.state,
      {
        dryRun: deps.dryRun,
        backupsBlocked: account.backupsBlocked,
        enforcementExempt: account.enforcementExempt,
      },
      action,
    );
    count(decision);
    return {
      ...decision,
      accountId: account.id,
      ...(serverVmid === undefined ? {} : { serverVmid }),
    } satisfies GateDecisionResponse;
  };

  app.post('/v1/gates/check', { preHandler: auth }, async (request, reply) => {
    const body = parse(reply, 'body', gateCheckBodySchema, request.body);
    if (!body) return reply;
    if (body.serverVmid !== undefined) {
      const account = await lookup.byVmid(body.serverVmid);
      if (!account) return notFound(reply, `unknown server ${body.serverVmid}`);
      return decide(account, body.action, body.serverVmid);
    }
    const account = await lookup.byId(body.accountId!);
    if (!account) return notFound(reply, `unknown account ${body.accountId}`);
    return decide(account, body.action);
  });

  // For the controller/reconciler: may it repair (edge, DNS, proxy, restart) this server?
  app.get('/v1/servers/:vmid/repair-allowed', { preHandler: auth }, async (request, reply) => {
    const params = parse(reply, 'params', vmidParamsSchema, request.params);
    if (!params) return reply;
    const account = await lookup.byVmid(params.vmid);
    if (!account) return notFound(reply, `unknown server ${params.vmid}`);
    return decide(account, 'controller.repair', params.vmid);
  });
}
