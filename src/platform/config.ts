// The one place the environment is read. Every process validates it at start-up and stops
// with a message naming each bad variable and what it expects (see .env.example).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { z } from 'zod';
import { weakTokenReason, weakWebhookSecretReason } from './secrets.js';
import { type EnforcementPolicy } from '../workflows/definitions.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

const positiveNumber = (fallback: number, what: string) =>
  z.coerce
    .number({ message: `expected ${what}` })
    .positive({ message: `expected ${what}` })
    .default(fallback);

const tcpPort = z.coerce
  .number({ message: 'expected a TCP port (1-65535)' })
  .int({ message: 'expected a TCP port (1-65535)' })
  .min(1, { message: 'expected a TCP port (1-65535)' })
  .max(65535, { message: 'expected a TCP port (1-65535)' });

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const TOKENS_MESSAGE = 'expected one or more secrets of at least 24 characters, separated by commas';
/** One or more bearer tokens (comma-separated: the old and the new one during a rotation). */
const tokenList = z
  .string({ message: TOKENS_MESSAGE })
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().min(24, { message: TOKENS_MESSAGE })).min(1, { message: TOKENS_MESSAGE }));
/** Unset: the scope has no token of its own (its callers use the internal token). */
const optionalTokenList = optionalString.pipe(tokenList.optional());

const optionalUrl = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()))
  .pipe(z.url({ message: 'expected an http(s) URL' }).optional());

// What discord.js accepts: it parses the webhook id and token out of exactly this shape.
const DISCORD_WEBHOOK_URL =
  /^https:\/\/(?:ptb\.|canary\.)?discord\.com\/api(?:\/v\d{1,2})?\/webhooks\/\d{17,19}\/[\w-]{68}$/;
const discordWebhookUrl = optionalString.pipe(
  z
    .string()
    .regex(DISCORD_WEBHOOK_URL, {
      message: 'expected a Discord webhook URL (https://discord.com/api/webhooks/<id>/<token>)',
    })
    .optional(),
);

/** host:port for a metrics listener; `off` (or empty) for none. */
const listenAddress = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v) => v.trim())
    .pipe(
      z
        .string()
        .regex(/^(off|[^\s:]+:\d{1,5})?$/, { message: 'expected host:port (e.g. 127.0.0.1:9464) or off' }),
    )
    .transform((v) => (v === '' || v === 'off' ? undefined : v));

/** USER@REALM!TOKENID, as Proxmox VE shows it when the API token is created. */
const PROXMOX_TOKEN_ID = /^[^\s@!=]+@[^\s@!=]+![^\s@!=]+$/;

/**
 * The webhook holds its connection across the Temporal call (the account lock's transaction), so
 * the pool bounds the events applied at once: 10 capped ingest at 0.66x a bare signalWithStart
 * loop, 20 reached 0.77x (bench/README.md).
 */
export const DEFAULT_DATABASE_POOL_MAX = 20;

/** The bearer-token variables, one per scope of the HTTP API (src/api/auth.ts). */
export const TOKEN_VARIABLES = [
  'INTERNAL_API_TOKEN',
  'ADMIN_TOKEN',
  'CONTROLLER_API_TOKEN',
  'PORTAL_API_TOKEN',
] as const;

export const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

    DATABASE_URL: z
      .string({ message: 'expected a postgresql:// connection string' })
      .regex(/^postgres(ql)?:\/\/.+/, { message: 'expected a postgresql:// connection string' }),
    DATABASE_POOL_MAX: z.coerce
      .number({ message: 'expected a whole number of connections from 1 to 200' })
      .int({ message: 'expected a whole number of connections from 1 to 200' })
      .min(1, { message: 'expected a whole number of connections from 1 to 200' })
      .max(200, { message: 'expected a whole number of connections from 1 to 200' })
      .default(DEFAULT_DATABASE_POOL_MAX),
    // Production refuses a DATABASE_URL role with more than the app's privileges unless this
    // says so, loudly (src/platform/database-roles.ts).
    DATABASE_ALLOW_PRIVILEGED_ROLE: bool(false),

    TEMPORAL_ADDRESS: z
      .string()
      .regex(/^[^\s:]+:\d{1,5}$/, { message: 'expected host:port, e.g. localhost:7233' })
      .default('localhost:7233'),
    TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
    TEMPORAL_TASK_QUEUE: z.string().min(1).default('billing-enforcement'),
    TEMPORAL_UI_URL: z
      .url({ message: 'expected the Temporal Web UI base URL' })
      .default('http://localhost:8233'),
    TEMPORAL_API_KEY: optionalString,
    TEMPORAL_TLS: bool(false),
    TEMPORAL_TLS_CERT_PATH: optionalString,
    TEMPORAL_TLS_KEY_PATH: optionalString,
    TEMPORAL_TLS_CA_PATH: optionalString,

    HOST: z.string().min(1).default('127.0.0.1'),
    PORT: tcpPort.default(3000),
    // The public listener: only POST /webhooks/stripe and /healthz, the one address Stripe must
    // reach. Unset: no public listener (PORT still serves the webhook, e.g. for local use).
    PUBLIC_HOST: z.string().min(1).default('0.0.0.0'),
    PUBLIC_PORT: tcpPort.optional(),
    INTERNAL_API_TOKEN: tokenList,
    ADMIN_TOKEN: tokenList,
    CONTROLLER_API_TOKEN: optionalTokenList,
    PORTAL_API_TOKEN: optionalTokenList,
    // Per client (its token, or its address without one); the webhook and probes are exempt.
    RATE_LIMIT_PER_MINUTE: z.coerce
      .number({ message: 'expected a whole number of requests per minute (1 or more)' })
      .int({ message: 'expected a whole number of requests per minute (1 or more)' })
      .min(1, { message: 'expected a whole number of requests per minute (1 or more)' })
      .default(60_000),
    // Failed authentications (missing or unknown token, bad webhook signature) per client address.
    AUTH_FAILURES_PER_MINUTE: z.coerce
      .number({ message: 'expected a whole number of failures per minute (1 or more)' })
      .int({ message: 'expected a whole number of failures per minute (1 or more)' })
      .min(1, { message: 'expected a whole number of failures per minute (1 or more)' })
      .default(30),

    STRIPE_WEBHOOK_SECRET: z
      .string({ message: 'expected one or more whsec_… secrets separated by commas' })
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      )
      .pipe(
        z
          .array(z.string().startsWith('whsec_', { message: 'each secret must start with whsec_' }))
          .min(1, { message: 'expected one or more whsec_… secrets separated by commas' }),
      ),
    STRIPE_SECRET_KEY: optionalString,
    // Another Stripe API endpoint (stripe-mock, a local stand-in); unset means api.stripe.com.
    STRIPE_API_BASE_URL: optionalUrl,
    RECONCILIATION_INTERVAL_MINUTES: positiveNumber(60, 'a number of minutes > 0'),

    // Operations (docs/runbook.md, docs/scaling.md).
    // How long a process waits at start-up for PostgreSQL and Temporal before it exits with 69.
    DEPENDENCY_WAIT_SECONDS: positiveNumber(30, 'a number of seconds > 0'),
    WORKER_SHUTDOWN_GRACE_SECONDS: positiveNumber(30, 'a number of seconds > 0'),
    WORKER_MAX_CACHED_WORKFLOWS: z.coerce
      .number({ message: 'expected a whole number >= 0' })
      .int({ message: 'expected a whole number >= 0' })
      .min(0, { message: 'expected a whole number >= 0' })
      .default(250),
    WORKER_METRICS_ADDRESS: listenAddress('127.0.0.1:9464'),
    WORKER_SERVICE_METRICS_ADDRESS: listenAddress('127.0.0.1:9465'),
    STALENESS_CHECK_INTERVAL_SECONDS: z.coerce
      .number({ message: 'expected a number of seconds >= 0 (0 turns the check off)' })
      .min(0, { message: 'expected a number of seconds >= 0 (0 turns the check off)' })
      .default(60),
    // Above the ~70 s a worker's long poll lasts, or an idle healthy worker would look stale.
    STALENESS_MAX_POLLER_AGE_SECONDS: z.coerce
      .number({ message: 'expected a number of seconds >= 90' })
      .min(90, { message: 'expected a number of seconds >= 90 (a long poll lasts up to ~70 s)' })
      .default(180),
    STALENESS_MAX_BACKLOG_AGE_SECONDS: positiveNumber(300, 'a number of seconds > 0'),

    ENFORCEMENT_MODE: z
      .enum(['dry-run', 'enforce'], { message: 'expected dry-run or enforce' })
      .default('dry-run'),
    POLICY_VERSION: optionalString,
    // Off by default: ladders then run exactly as before the reminder existed.
    POLICY_REMINDER_AFTER_HOURS: z
      .string()
      .optional()
      .transform((v) => (v === undefined || v.trim() === '' ? undefined : Number(v)))
      .pipe(
        z
          .number({ message: 'expected a number of hours > 0' })
          .positive({ message: 'expected a number of hours > 0' })
          .optional(),
      ),
    POLICY_FINAL_WARNING_AFTER_HOURS: positiveNumber(72, 'a number of hours > 0'),
    POLICY_SUSPEND_AFTER_HOURS: positiveNumber(120, 'a number of hours > 0'),
    POLICY_RETAIN_AFTER_DAYS: positiveNumber(14, 'a number of days > 0'),
    POLICY_RETENTION_DAYS: positiveNumber(30, 'a number of days > 0'),
    POLICY_RESTART_SERVERS_ON_RESTORE: bool(true),
    POLICY_MIN_AMOUNT_DUE_CENTS: z.coerce
      .number({ message: 'expected a whole number of cents >= 0' })
      .int()
      .min(0)
      .default(100),
    POLICY_SUSPENSION_BREAKER_THRESHOLD: positiveNumber(25, 'a number of suspensions > 0'),
    POLICY_SUSPENSION_BREAKER_WINDOW_MINUTES: positiveNumber(60, 'a number of minutes > 0'),
    POLICY_SHUTDOWN_TIMEOUT_SECONDS: positiveNumber(120, 'a number of seconds > 0'),

    RESEND_API_KEY: optionalString,
    EMAIL_FROM: z.string().min(3).default('Billing <billing@localhost>'),
    EMAIL_REPLY_TO: optionalString,
    PORTAL_URL: z.url({ message: 'expected the customer Portal base URL' }).default('http://localhost:5173'),
    DISCORD_BILLING_WEBHOOK_URL: discordWebhookUrl,
    DISCORD_OPS_WEBHOOK_URL: discordWebhookUrl,
    // Per process: Resend's default limit is 2 requests a second per team.
    EMAIL_RATE_PER_SECOND: positiveNumber(2, 'a number of emails per second > 0'),
    // Per webhook and process: Discord allows about 30 messages a minute per channel.
    DISCORD_RATE_PER_SECOND: positiveNumber(0.5, 'a number of messages per second > 0'),

    SERVER_CONTROL: z
      .enum(['recording', 'proxmox'], { message: 'expected recording or proxmox' })
      .default('recording'),
    PROXMOX_API_URL: optionalUrl,
    PROXMOX_TOKEN_ID: optionalString,
    PROXMOX_TOKEN_SECRET: optionalString,
    PROXMOX_CA_PATH: optionalString,
    PROXMOX_TLS_INSECURE: bool(false),
    // Production refuses plain-http Proxmox and PROXMOX_TLS_INSECURE unless this says so, loudly.
    PROXMOX_ALLOW_INSECURE_IN_PRODUCTION: bool(false),
  })
  .superRefine((env, ctx) => {
    if (
      env.POLICY_REMINDER_AFTER_HOURS !== undefined &&
      env.POLICY_REMINDER_AFTER_HOURS >= env.POLICY_FINAL_WARNING_AFTER_HOURS
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['POLICY_REMINDER_AFTER_HOURS'],
        message: 'must be earlier than POLICY_FINAL_WARNING_AFTER_HOURS',
      });
    }
    if (env.POLICY_SUSPEND_AFTER_HOURS <= env.POLICY_FINAL_WARNING_AFTER_HOURS) {
      ctx.addIssue({
        code: 'custom',
        path: ['POLICY_SUSPEND_AFTER_HOURS'],
        message: 'must be later than POLICY_FINAL_WARNING_AFTER_HOURS',
      });
    }
    if (env.POLICY_RETAIN_AFTER_DAYS * 24 <= env.POLICY_SUSPEND_AFTER_HOURS) {
      ctx.addIssue({
        code: 'custom',
        path: ['POLICY_RETAIN_AFTER_DAYS'],
        message: 'must be later than POLICY_SUSPEND_AFTER_HOURS',
      });
    }
    if (env.SERVER_CONTROL === 'proxmox') {
      const need = 'is required when SERVER_CONTROL=proxmox';
      if (!env.PROXMOX_API_URL)
        ctx.addIssue({
          code: 'custom',
          path: ['PROXMOX_API_URL'],
          message: `${need} (e.g. https://pve1:8006)`,
        });
      if (!env.PROXMOX_TOKEN_ID)
        ctx.addIssue({ code: 'custom', path: ['PROXMOX_TOKEN_ID'], message: `${need} (USER@REALM!TOKENID)` });
      else if (!PROXMOX_TOKEN_ID.test(env.PROXMOX_TOKEN_ID))
        ctx.addIssue({
          code: 'custom',
          path: ['PROXMOX_TOKEN_ID'],
          message: 'expected USER@REALM!TOKENID, e.g. billing@pve!enforcement',
        });
      if (!env.PROXMOX_TOKEN_SECRET)
        ctx.addIssue({
          code: 'custom',
          path: ['PROXMOX_TOKEN_SECRET'],
          message: `${need} (the token's secret)`,
        });
    }
    if (env.PROXMOX_CA_PATH) {
      try {
        fs.accessSync(env.PROXMOX_CA_PATH, fs.constants.R_OK);
      } catch {
        ctx.addIssue({
          code: 'custom',
          path: ['PROXMOX_CA_PATH'],
          message: 'expected a readable PEM file (the CA that signed the Proxmox certificate)',
        });
      }
    }
    if (env.PUBLIC_PORT !== undefined && env.PUBLIC_PORT === env.PORT) {
      ctx.addIssue({
        code: 'custom',
        path: ['PUBLIC_PORT'],
        message: 'must differ from PORT (the internal listener)',
      });
    }
    // A token names one scope: the same secret in two would let one caller act as the other.
    const seen = new Map<string, string>();
    for (const variable of TOKEN_VARIABLES) {
      for (const value of env[variable] ?? []) {
        const first = seen.get(value);
        if (first !== undefined && first !== variable)
          ctx.addIssue({ code: 'custom', path: [variable], message: `must differ from ${first}` });
        seen.set(value, first ?? variable);
      }
    }
  });

export type Env = z.infer<typeof envSchema>;

export interface Config {
  env: Env;
  policy: EnforcementPolicy;
}

export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(
      'Invalid configuration:\n' +
        problems.map((p) => `  - ${p.variable}: ${p.message}`).join('\n') +
        '\nSee .env.example for every variable and its meaning.',
    );
    this.name = 'ConfigError';
  }
}

export function policyFromEnv(env: Env): EnforcementPolicy {
  const body = {
    // Absent when unset, so the policy (and its version) is the one from before the reminder.
    ...(env.POLICY_REMINDER_AFTER_HOURS === undefined
      ? {}
      : { reminderAfterMs: env.POLICY_REMINDER_AFTER_HOURS * HOUR_MS }),
    finalWarningAfterMs: env.POLICY_FINAL_WARNING_AFTER_HOURS * HOUR_MS,
    suspendAfterMs: env.POLICY_SUSPEND_AFTER_HOURS * HOUR_MS,
    retainAfterMs: env.POLICY_RETAIN_AFTER_DAYS * DAY_MS,
    retentionMs: env.POLICY_RETENTION_DAYS * DAY_MS,
    restartServersOnRestore: env.POLICY_RESTART_SERVERS_ON_RESTORE,
    dryRun: env.ENFORCEMENT_MODE === 'dry-run',
    minAmountDueCents: env.POLICY_MIN_AMOUNT_DUE_CENTS,
    suspensionBreaker: {
      threshold: env.POLICY_SUSPENSION_BREAKER_THRESHOLD,
      windowMs: env.POLICY_SUSPENSION_BREAKER_WINDOW_MINUTES * 60_000,
    },
    shutdownTimeoutMs: env.POLICY_SHUTDOWN_TIMEOUT_SECONDS * 1000,
  };
  // A running workflow keeps the policy it started with (until `billing policy apply` moves it
  // onto the one in force); the version names that policy.
  const version =
    env.POLICY_VERSION ?? `p-${createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 10)}`;
  return { version, ...body };
}

/**
 * Production refuses what anyone could know or guess (src/platform/secrets.ts) and a Proxmox
 * connection whose token could be read or whose server could be impersonated. `serviceSecrets:
 * false` is for the CLI, which replaces the secrets it never uses with stand-ins.
 */
export function productionProblems(env: Env, options: { serviceSecrets?: boolean } = {}) {
  const problems: { variable: string; message: string }[] = [];
  if (env.NODE_ENV !== 'production') return problems;
  if (options.serviceSecrets !== false) {
    for (const variable of TOKEN_VARIABLES) {
      for (const value of env[variable] ?? []) {
        const reason = weakTokenReason(value);
        if (reason) problems.push({ variable, message: `${reason} (NODE_ENV=production)` });
      }
    }
    for (const secret of env.STRIPE_WEBHOOK_SECRET) {
      const reason = weakWebhookSecretReason(secret);
      if (reason)
        problems.push({ variable: 'STRIPE_WEBHOOK_SECRET', message: `${reason} (NODE_ENV=production)` });
    }
  }
  if (env.SERVER_CONTROL === 'proxmox' && !env.PROXMOX_ALLOW_INSECURE_IN_PRODUCTION) {
    if (env.PROXMOX_API_URL && !env.PROXMOX_API_URL.startsWith('https://'))
      problems.push({
        variable: 'PROXMOX_API_URL',
        message:
          'is not https: the API token would travel in clear (NODE_ENV=production; PROXMOX_ALLOW_INSECURE_IN_PRODUCTION=true overrides)',
      });
    if (env.PROXMOX_TLS_INSECURE)
      problems.push({
        variable: 'PROXMOX_TLS_INSECURE',
        message:
          'turns certificate verification off: set PROXMOX_CA_PATH instead (NODE_ENV=production; PROXMOX_ALLOW_INSECURE_IN_PRODUCTION=true overrides)',
      });
  }
  return problems;
}

export function loadConfig(
  source: NodeJS.ProcessEnv = process.env,
  options: { serviceSecrets?: boolean } = {},
): Config {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({
        // Variables are flat; a deeper path is an item of a comma-separated list.
        variable: issue.path.length > 0 ? String(issue.path[0]) : '(environment)',
        message:
          issue.code === 'invalid_type' && issue.input === undefined
            ? `is missing (${issue.message})`
            : issue.message,
      })),
    );
  }
  const problems = productionProblems(parsed.data, options);
  if (problems.length > 0) throw new ConfigError(problems);
  return { env: parsed.data, policy: policyFromEnv(parsed.data) };
}

/** For process entry points: print the problems and exit non-zero instead of a stack trace. */
export function loadConfigOrExit(source: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(source);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
}
