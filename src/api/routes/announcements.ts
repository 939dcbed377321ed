// The Portal's billing announcement (docs/design.md, "Gates"): a suspended server must read as "suspended
// for billing", never as broken — what happened, what still works, what is due, where to pay,
// and what happens next. Empty for an account in good standing.
import { type FastifyInstance } from 'fastify';
import { type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type PrismaClient } from '../../platform/database.js';
import { readAccount } from '../../accounts/read-model.js';
import {
  evaluateGate,
  gateStanding,
  GATE_ACTIONS,
  GATE_CODES,
  GATE_STATES,
  type GateState,
} from '../../gates/index.js';
import { formatAmount } from '../../notifications/email-templates.js';
import { type LadderClient } from '../../ladder/client.js';
import { type EnforcementPolicy, type EnforcementStatus } from '../../workflows/definitions.js';
import { nextDateFromAccount } from '../../workflows/ladder.js';
import { type Scope } from '../auth.js';
import { accountIdSchema, notFound } from '../validation.js';
import { errorResponse, errorResponses, json } from '../contract.js';

export interface AnnouncementRouteDeps {
  db: PrismaClient;
  policy: EnforcementPolicy;
  portalUrl: string;
  /** For the next date as the ladder itself sees it (grace extensions, pauses); optional. */
  ladder?: Pick<LadderClient, 'status'>;
  /** How long to wait for the workflow's answer before falling back to the database's dates. */
  statusTimeoutMs?: number;
}

export const announcementsQuerySchema = z.object({ accountId: accountIdSchema }).strict();

const amountSchema = z.object({
  currency: z.string(),
  amountCents: z.number().int(),
  formatted: z.string(),
});

export const announcementSchema = z
  .object({
    id: z.string().describe('stable per account and state: the Portal can remember a dismissal'),
    kind: z.literal('billing'),
    severity: z.enum(['warning', 'critical']),
    state: z.enum(GATE_STATES),
    code: z.enum(GATE_CODES),
    title: z.string(),
    message: z.string().describe('what happened, customer-facing'),
    stillWorks: z.array(z.string()),
    blocked: z.array(z.string()),
    blockedActions: z.array(z.enum(GATE_ACTIONS)),
    amountDue: z
      .array(amountSchema)
      .describe('sum of the unpaid invoices (open or uncollectible), one entry per currency'),
    invoices: z
      .array(
        z.object({
          id: z.string(),
          amountCents: z.number().int(),
          currency: z.string(),
          formatted: z.string(),
          drivesLadder: z.boolean().describe('false: below the minimum amount, shown but not enforced'),
        }),
      )
      .describe('the unpaid invoices, oldest first'),
    payUrl: z
      .string()
      .describe(
        'hosted invoice page of the oldest unpaid invoice that drives the ladder (else the oldest unpaid one), or the Portal billing page',
      ),
    nextDate: z
      .object({ at: z.string(), what: z.string() })
      .nullable()
      .describe('what happens next and when, unless the invoice is paid (null while paused)'),
  })
  .meta({ id: 'Announcement' });

export const announcementsResponseSchema = z
  .object({
    accountId: z.string(),
    announcements: z.array(announcementSchema),
    dryRun: z
      .boolean()
      .describe(
        "the account's ladder runs in dry-run (outside a ladder: the service's mode) or the account is exempt: nothing is shown to the customer",
      ),
    wouldBe: z
      .array(announcementSchema)
      .optional()
      .describe('present when dryRun: what would have been announced'),
  })
  .meta({ id: 'Announcements' });

export type Announcement = z.infer<typeof announcementSchema>;

type AffectedState = Exclude<GateState, 'active'>;

const COPY: Record<
  AffectedState,
  { code: Announcement['code']; severity: Announcement['severity']; title: string; message: string }
> = {
  overdue: {
    code: 'BILLING_OVERDUE',
    severity: 'warning',
    title: 'Payment overdue',
    message:
      'We could not collect a payment for your account. Your servers keep running; please pay the open invoice to avoid any interruption.',
  },
  final_warning: {
    code: 'BILLING_BACKUPS_BLOCKED',
    severity: 'critical',
    title: 'Final notice: backups paused',
    message:
      'A payment for your account is still overdue. Backup changes (create, restore, delete, prune) are paused until it is paid, and your servers will be suspended if it stays unpaid.',
  },
  suspended: {
    code: 'BILLING_SUSPENDED',
    severity: 'critical',
    title: 'Servers suspended for billing',
    message:
      'Your servers are suspended for billing because a payment is overdue. Nothing is broken and no data has been deleted. Pay the open invoice and the servers that were running start again.',
  },
  retained: {
    code: 'BILLING_RETAINED',
    severity: 'critical',
    title: 'Servers suspended for billing — data retained',
    message:
      'Your servers are suspended for billing and your data is retained, untouched. Pay the open invoice at any time to restore access.',
  },
};

const STILL_WORKS: Record<AffectedState, string[]> = {
  overdue: ['Your servers and everything on them', 'File downloads', 'Backups and backup downloads'],
  final_warning: ['Your servers', 'File downloads and uploads', 'Listing and downloading backups'],
  suspended: ['File downloads', 'Listing and downloading backups', 'Stopping servers'],
  retained: ['File downloads', 'Listing and downloading backups'],
};

const BLOCKED_LABEL: Partial<Record<(typeof GATE_ACTIONS)[number], string>> = {
  'server.start': 'Starting and restarting servers',
  'server.console': 'The server console',
  'server.provision': 'Creating new servers',
  'backup.create': 'Creating, restoring, deleting and pruning backups',
  'file.write': 'Uploading, editing and deleting files',
};

const NEXT_WHAT: Record<AffectedState, string> = {
  overdue: 'Backup changes will be paused if the invoice is still unpaid.',
  final_warning: 'Your servers will be stopped if the invoice is still unpaid. Nothing will be deleted.',
  suspended: 'Your account moves to retention if the invoice is still unpaid. Nothing will be deleted.',
  retained: 'Retention ends; after that a person on our team reviews the account before anything is removed.',
};

interface AccountRow {
  id: string;
  state: GateState;
  backupsBlocked: boolean;
  overdueSince: Date | null;
  retainUntil: Date | null;
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function announcementRoutes(app: FastifyInstance, deps: AnnouncementRouteDeps) {
  // The Portal's token opens only this route; the main API's keeps it too.
  const auth = { scopes: ['portal', 'internal'] as const satisfies Scope[] };
  const portalBilling = `${deps.portalUrl.replace(/\/+$/, '')}/billing`;
  const statusTimeoutMs = deps.statusTimeoutMs ?? 1000;

  /**
   * The workflow knows the real next date (grace extensions, pauses); the database only the
   * rung times. If the ladder cannot answer quickly the Portal still gets the database's date,
   * which is never later than the real one.
   */
  async function nextDate(
    account: AccountRow,
    ladderState: GateState,
  ): Promise<{ at: string; what: string } | null> {
    const state = account.state as AffectedState;
    let status: EnforcementStatus | null | undefined;
    if (deps.ladder) {
      status = await withTimeout(
        deps.ladder.status(account.id).catch(() => undefined),
        statusTimeoutMs,
      );
    }
    if (status && status.state === ladderState) {
      if (!status.nextAction) return null; // paused or frozen: nothing is scheduled
      return { at: status.nextAction.at, what: NEXT_WHAT[state] };
    }
    // A ladder standing past the rung it enforced for real owes its next rungs from its switch to
    // enforce, which the database does not hold: no date rather than a wrong one.
    if (ladderState !== account.state) return null;
    const at = nextDateFromAccount(account, deps.policy);
    return at ? { at: at.toISOString(), what: NEXT_WHAT[state] } : null;
  }

  app.withTypeProvider<ZodTypeProvider>().get(
    '/api/announcements',
    {
      config: auth,
      schema: {
        tags: ['internal'],
        operationId: 'announcements',
        summary: 'The billing announcement for the Portal (empty for an account in good standing)',
        querystring: announcementsQuerySchema,
        response: {
          200: json(announcementsResponseSchema, 'Announcements'),
          ...errorResponses(
            {
              auth: true,
              invalid: 'accountId is missing or breaks its pattern, or another parameter is given',
            },
            { 404: errorResponse('No account with this id') },
          ),
        },
      },
    },
    async (request, reply) => {
      const query = request.query;
      const view = await readAccount(deps.db, query.accountId, deps.policy);
      if (!view) return notFound(reply, `unknown account ${query.accountId}`);
      // What the gates decide on: the ladder's own mode (one started in dry-run told the customer
      // nothing, whatever the service's mode is now) and the rung it enforced for real.
      const standing = gateStanding(
        {
          state: view.state,
          enforcedState: view.enforcedState,
          policyDryRun: view.mode === 'dry-run',
          backupsBlocked: view.flags.backupsBlocked,
          enforcementExempt: view.flags.enforcementExempt,
        },
        { dryRun: deps.policy.dryRun },
      );
      const account = {
        id: view.accountId,
        state: standing.state,
        backupsBlocked: view.flags.backupsBlocked,
        overdueSince: view.overdueSince ? new Date(view.overdueSince) : null,
        retainUntil: view.retainUntil ? new Date(view.retainUntil) : null,
      };
      const relaxed = standing.flags.dryRun || view.flags.enforcementExempt;
      if (account.state === 'active') {
        return { accountId: account.id, announcements: [], dryRun: relaxed };
      }
      const state = account.state;
      const blockedActions = GATE_ACTIONS.filter(
        (action) =>
          !evaluateGate(state, { dryRun: false, backupsBlocked: account.backupsBlocked }, action).allowed,
      );
      const payable = view.invoices.find((i) => i.drivesLadder) ?? view.invoices[0];
      const announcement: Announcement = {
        id: `billing:${account.id}:${state}`,
        kind: 'billing',
        ...COPY[state],
        state,
        stillWorks: STILL_WORKS[state],
        blocked: [...new Set(blockedActions.flatMap((a) => (BLOCKED_LABEL[a] ? [BLOCKED_LABEL[a]] : [])))],
        blockedActions,
        amountDue: view.amountDue.map(({ currency, amount }) => ({
          currency,
          amountCents: amount,
          formatted: formatAmount(amount, currency),
        })),
        invoices: view.invoices.map((i) => ({
          id: i.id,
          amountCents: i.amountDue,
          currency: i.currency.toLowerCase(),
          formatted: formatAmount(i.amountDue, i.currency),
          drivesLadder: i.drivesLadder,
        })),
        payUrl: payable?.hostedInvoiceUrl ?? portalBilling,
        nextDate: await nextDate(account, view.state),
      };
      // Dry-run and exempt accounts were told nothing, so the Portal shows nothing either.
      if (relaxed) return { accountId: account.id, announcements: [], dryRun: true, wouldBe: [announcement] };
      return { accountId: account.id, announcements: [announcement], dryRun: false };
    },
  );
}
