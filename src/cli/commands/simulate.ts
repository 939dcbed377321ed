// `billing simulate <event> --account <id>`: our `stripe trigger`. Builds the event from Stripe's
// published object (src/webhook/stripe-shapes/), signs it with the configured webhook secret and
// posts it to the webhook, so the whole path — verification, event log, ladder — runs as in
// production. A dispute is Stripe's shape too: it names only its charge, so by default the
// charge's own `charge.succeeded` goes first, as it does from Stripe when the customer pays.
import { type Command, Option } from 'commander';
import { z } from 'zod';
import { createPrisma } from '../../platform/database.js';
import {
  newId,
  SIMULATED_KINDS,
  signPayload,
  simulatedEvent,
  type SimulatedKind,
} from '../../webhook/event-builders.js';
import { CliError, EXIT, printJson, println, wholeNumber, type Output } from '../runtime.js';

export interface SimulateOptions {
  account?: string;
  customer?: string;
  invoice?: string;
  charge?: string;
  /** false (--no-charge-event): a dispute without the charge's event before it. */
  chargeEvent?: boolean;
  amount?: number;
  currency: string;
  url: string;
  json?: boolean;
}

export interface SimulateDeps {
  /** The account's Stripe customer id (from the database). */
  customerOf: (accountId: string) => Promise<string | null>;
  secret: string;
  out: Output;
  fetch?: typeof fetch;
}

export async function runSimulate(deps: SimulateDeps, kind: SimulatedKind, options: SimulateOptions) {
  let customer = options.customer;
  if (!customer) {
    if (!options.account) throw new CliError('give --account <id> (or --customer <cus_…>)', EXIT.usage);
    const found = await deps.customerOf(options.account);
    if (found === undefined || found === null) {
      throw new CliError(
        `account ${options.account} has no Stripe customer id (sync it with PUT /v1/accounts/:id or \`billing accounts import\`)`,
        EXIT.notFound,
      );
    }
    customer = found;
  }
  const chargeId =
    options.charge ?? (kind === 'dispute' || kind === 'charge-succeeded' ? newId('ch') : undefined);
  const common = {
    customer,
    invoiceId: options.invoice,
    chargeId,
    amount: options.amount,
    currency: options.currency,
  };
  const events = [
    ...(kind === 'dispute' && options.chargeEvent !== false
      ? [simulatedEvent('charge-succeeded', common)]
      : []),
    simulatedEvent(kind, common),
  ];
  const sent: { eventId: string; type: string; objectId: string; status: number; response: unknown }[] = [];
  for (const event of events) {
    const { status, body } = await post(deps, options.url, event);
    const object = event.data.object as { id: string };
    sent.push({ eventId: event.id, type: event.type, objectId: object.id, status, response: body });
    if (!options.json) {
      println(deps.out, `sent ${event.type} ${event.id} (${object.id}) for ${customer}`);
      println(deps.out, `→ ${status} ${typeof body === 'string' ? body : JSON.stringify(body)}`);
    }
    if (status < 200 || status >= 300) {
      if (options.json) printJson(deps.out, { ...sent.at(-1), before: sent.slice(0, -1) });
      throw new CliError(`the webhook answered ${status}`, status >= 500 ? EXIT.unavailable : EXIT.failure);
    }
  }
  if (options.json) printJson(deps.out, { ...sent.at(-1), before: sent.slice(0, -1) });
}

async function post(deps: SimulateDeps, url: string, event: { id: string }) {
  const payload = JSON.stringify(event);
  let response: Response;
  try {
    response = await (deps.fetch ?? fetch)(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': signPayload(payload, deps.secret) },
      body: payload,
    });
  } catch (error) {
    throw new CliError(
      `cannot reach the webhook at ${url}: ${error instanceof Error ? error.message : String(error)} (is \`npm run dev\` running?)`,
      EXIT.unavailable,
    );
  }
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: shown as text
  }
  return { status: response.status, body };
}

export function registerSimulate(program: Command) {
  program
    .command('simulate')
    .description('send a signed, Stripe-shaped event to the webhook (like `stripe trigger`)')
    .addArgument(program.createArgument('<event>', 'the event to send').choices(SIMULATED_KINDS as string[]))
    .option('--account <id>', 'the account (its Stripe customer id is read from the database)')
    .option('--customer <cus_id>', 'the Stripe customer id, instead of --account')
    .option('--invoice <in_id>', 'the invoice id (default: a new one; reuse it to pay or retry an invoice)')
    .option('--charge <ch_id>', 'the charge of charge-succeeded or dispute (default: a new one)')
    .option(
      '--no-charge-event',
      "dispute: send only the dispute, not the charge's charge.succeeded before it (the service then needs STRIPE_SECRET_KEY or an earlier event of that charge, or keeps the dispute unresolved)",
    )
    .option('--amount <cents>', 'amount due in the smallest currency unit', wholeNumber('--amount'))
    .addOption(new Option('--currency <code>', 'three-letter currency code').default('usd'))
    .option('--url <url>', 'the webhook URL (default: this service on HOST:PORT)')
    .option('--json', 'print the event id and the response as JSON')
    .addHelpText(
      'after',
      `
Examples:
  billing simulate payment-failed --account acct_42 --invoice in_test_1 --amount 2500
  billing simulate paid --account acct_42 --invoice in_test_1
  billing simulate dispute --account acct_42     # charge.succeeded, then Stripe's dispute of it
With the Stripe CLI, real test-mode events reach a local service through:
  stripe listen --forward-to localhost:3000/webhooks/stripe`,
    )
    .action(async (kind: SimulatedKind, options: Omit<SimulateOptions, 'url'> & { url?: string }) => {
      const env = z
        .object({
          STRIPE_WEBHOOK_SECRET: z.string({ message: 'is missing (the secret the webhook verifies with)' }),
          DATABASE_URL: z.string().optional(),
          HOST: z.string().default('127.0.0.1'),
          PORT: z.string().default('3000'),
        })
        .safeParse(process.env);
      if (!env.success) {
        throw new CliError(
          `STRIPE_WEBHOOK_SECRET ${env.error.issues[0]?.message ?? 'is invalid'}`,
          EXIT.config,
        );
      }
      const host = env.data.HOST === '0.0.0.0' ? '127.0.0.1' : env.data.HOST;
      const secret = env.data.STRIPE_WEBHOOK_SECRET.split(',')[0]!.trim();
      const db = env.data.DATABASE_URL ? createPrisma(env.data.DATABASE_URL, { max: 1 }) : undefined;
      try {
        await runSimulate(
          {
            secret,
            out: process.stdout,
            customerOf: async (accountId) => {
              if (!db)
                throw new CliError(
                  'DATABASE_URL is needed to look up --account (or give --customer)',
                  EXIT.config,
                );
              const account = await db.billingAccount.findUnique({
                where: { id: accountId },
                select: { stripeCustomerId: true },
              });
              if (!account) throw new CliError(`unknown account ${accountId}`, EXIT.notFound);
              return account.stripeCustomerId;
            },
          },
          kind,
          { ...options, url: options.url ?? `http://${host}:${env.data.PORT}/webhooks/stripe` },
        );
      } finally {
        await db?.$disconnect();
      }
    });
}
