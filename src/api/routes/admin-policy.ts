// The admin API's side of `billing policy`: the policy in force, what moving the running ladders
// onto it would change, and moving them (src/ladder/policy-rollout.ts does both; each ladder
// validates, adopts and audits the change itself).
import { type Client } from '@temporalio/client';
import { type FastifyInstance } from 'fastify';
import { type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ADMIN_INPUT_LIMITS } from '../../workflows/admin-input.js';
import {
  BILLING_STATES,
  DEFAULT_MIN_NOTICE_HOURS,
  type EnforcementPolicy,
} from '../../workflows/definitions.js';
import { applyRollout, planRollout, type RolloutOptions } from '../../ladder/policy-rollout.js';
import { adminInputSchema } from '../../accounts/admin-update-schemas.js';
import { type Scope } from '../auth.js';
import { accountIdSchema, integerString, sendError, timestampSchema } from '../validation.js';
import { errorResponse, errorResponses, json, RETRY_AFTER } from '../contract.js';
import { unavailableDependency } from '../../webhook/dependency-errors.js';
import { policyInHours } from '../../platform/policy-summary.js';

export interface AdminPolicyDeps {
  temporal: Client;
  taskQueue: string;
  policy: EnforcementPolicy;
}

const duration = z
  .object({ hours: z.number(), days: z.number() })
  .describe('counted from the first failed payment (retention: from the retained rung)');

export const policyInForceSchema = z
  .object({
    version: z.string(),
    mode: z.enum(['dry-run', 'enforce']),
    reminderAfter: duration.nullable(),
    finalWarningAfter: duration,
    suspendAfter: duration,
    retainAfter: duration,
    retention: duration,
  })
  .meta({ id: 'PolicyInForce' });

const minNoticeHours = z
  .number()
  .min(0, 'minNoticeHours: at least 0')
  .max(ADMIN_INPUT_LIMITS.maxGraceHours, 'minNoticeHours: at most 90 days')
  .describe(`no rung lands sooner than this after the change (default ${DEFAULT_MIN_NOTICE_HOURS})`);

const selection = {
  state: z.enum(BILLING_STATES).optional().describe('only ladders whose account is in this state'),
  accountId: accountIdSchema.optional().describe("only this account's ladder"),
};

export const policyPlanQuerySchema = z
  .object({
    ...selection,
    minNoticeHours: integerString(
      0,
      ADMIN_INPUT_LIMITS.maxGraceHours,
      'minNoticeHours: whole hours from 0 to 2160',
    )
      .optional()
      .describe(`no rung lands sooner than this after the change (default ${DEFAULT_MIN_NOTICE_HOURS})`),
  })
  .strict();

export const policyApplyBodySchema = adminInputSchema
  .extend({
    ...selection,
    minNoticeHours: minNoticeHours.optional(),
    concurrency: z.number().int().min(1).max(64).optional().describe('ladders asked at once (default 16)'),
  })
  .strict();

const standing = z.object({
  version: z.string(),
  dryRun: z.boolean(),
  nextAction: z.object({ rung: z.string(), at: timestampSchema }).nullable(),
  nextRung: z.object({ rung: z.string(), at: timestampSchema }).nullable(),
});

const changeSchema = z
  .object({
    accountId: z.string(),
    state: z.enum(BILLING_STATES),
    current: z.boolean(),
    from: standing.describe('where the ladder stands on its own policy'),
    to: standing.describe('where it would stand on the policy in force'),
  })
  .meta({ id: 'PolicyChange' });

const failureSchema = z.object({ accountId: z.string(), error: z.string() });
const policyName = z.object({ version: z.string(), dryRun: z.boolean() });

export const policyPlanSchema = z
  .object({
    policy: policyName,
    scanned: z.number().int().describe('running ladders found'),
    changes: z.array(changeSchema).describe('ladders whose policy version or mode differs'),
    alreadyCurrent: z.number().int(),
    failed: z.array(failureSchema).describe('ladders that could not be asked'),
  })
  .meta({ id: 'PolicyPlan' });

export const policyApplySchema = z
  .object({
    policy: policyName,
    scanned: z.number().int(),
    applied: z.array(changeSchema),
    alreadyCurrent: z.number().int(),
    failed: z
      .array(failureSchema)
      .describe('ladders that refused or could not be reached; run again to retry'),
  })
  .meta({ id: 'PolicyApplyResult' });

export function adminPolicyRoutes(app: FastifyInstance, deps: AdminPolicyDeps) {
  const auth = { scopes: ['admin'] as const satisfies Scope[] };
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const admin = { tags: ['admin'] };
  const unavailable = {
    503: errorResponse('Temporal could not be asked which ladders run; nothing was changed', RETRY_AFTER),
  };
  const rollout = (
    input: { state?: RolloutOptions['state']; accountId?: string; minNoticeHours?: number },
    concurrency?: number,
  ): RolloutOptions => ({
    client: deps.temporal,
    taskQueue: deps.taskQueue,
    policy: deps.policy,
    state: input.state,
    accountId: input.accountId,
    minNoticeHours: input.minNoticeHours ?? DEFAULT_MIN_NOTICE_HOURS,
    concurrency: concurrency ?? 16,
  });
  /** Runs a rollout; Temporal out of reach is a 503 (no ladder was touched before the listing). */
  const orUnavailable = async <R>(reply: Parameters<typeof sendError>[0], run: () => Promise<R>) => {
    try {
      return await run();
    } catch (error) {
      if (!unavailableDependency(error)) throw error;
      void reply.header('retry-after', '30');
      return sendError(reply, 503, {
        error: 'unavailable',
        message: 'Temporal is unavailable; nothing was changed',
      });
    }
  };

  routes.get(
    '/admin/v1/policy',
    {
      config: auth,
      schema: {
        ...admin,
        operationId: 'getPolicy',
        summary: 'The policy in force now: its version, mode and rung times in hours and days',
        response: {
          200: json(policyInForceSchema, 'The policy in force'),
          ...errorResponses({ auth: true }),
        },
      },
    },
    () => policyInHours(deps.policy),
  );

  routes.get(
    '/admin/v1/policy/plan',
    {
      config: auth,
      schema: {
        ...admin,
        operationId: 'planPolicy',
        summary: 'What moving the running ladders onto the policy in force would change (changes nothing)',
        querystring: policyPlanQuerySchema,
        response: {
          200: json(policyPlanSchema, 'The plan'),
          ...errorResponses(
            {
              auth: true,
              invalid: 'state, accountId or minNoticeHours out of range, or an unknown parameter',
            },
            unavailable,
          ),
        },
      },
    },
    async (request, reply) => {
      const { minNoticeHours: hours, ...rest } = request.query;
      return orUnavailable(reply, () => planRollout(rollout({ ...rest, minNoticeHours: hours })));
    },
  );

  routes.post(
    '/admin/v1/policy/apply',
    {
      config: auth,
      schema: {
        ...admin,
        operationId: 'applyPolicy',
        summary:
          'Moves the selected running ladders onto the policy in force (workflow update `applyPolicy`, audited by each ladder; safe to repeat)',
        body: policyApplyBodySchema,
        response: {
          200: json(policyApplySchema, 'Applied, already current and failed, ladder by ladder'),
          ...errorResponses(
            {
              auth: true,
              body: true,
              invalid:
                'the body lacks who does it and why (or breaks their limits), or a selector, minNoticeHours or concurrency is out of range',
            },
            unavailable,
          ),
        },
      },
    },
    async (request, reply) => {
      const { actor, reason, concurrency, ...input } = request.body;
      return orUnavailable(reply, () => applyRollout({ ...rollout(input, concurrency), actor, reason }));
    },
  );
}
