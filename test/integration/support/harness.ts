// Shared pieces of the integration tests: the real database, the time-skipping server, a worker
// with the real activities (recording adapters for email, Discord and servers), seeded accounts.
// Workers and ladders come from the production factories (createBillingWorker,
// createLadderClient), so the tests run what the service runs.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import proto from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Runtime, DefaultLogger, type Worker } from '@temporalio/worker';
import { type Client, type WorkflowHandle } from '@temporalio/client';
import { afterAll, afterEach, beforeAll, inject } from 'vitest';
import { recordingActivityDeps } from '../../../src/activities/deps.js';
import { createActivities, type ActivityDeps } from '../../../src/activities/index.js';
import {
  createLadderClient,
  type LadderClientOptions,
  type LadderHandle,
} from '../../../src/ladder/client.js';
import {
  createBillingWorker,
  type BillingWorkerOptions,
} from '../../../src/platform/temporal/worker-factory.js';
import { createPrisma, type PrismaClient } from '../../../src/platform/database.js';
import { createLogger } from '../../../src/platform/logger.js';
import { startTimeSkippingEnvironment } from '../../../src/dev/time-skipping.js';
import { projectRoot, temporalCliExecutable } from '../../../src/dev/toolchain.js';
import {
  invoiceSettledSignal,
  paymentFailedSignal,
  SEARCH_ATTRIBUTES,
  statusQuery,
  workflowIdFor,
  type BillingState,
  type EnforcementStatus,
} from '../../../src/workflows/definitions.js';
import { type billingEnforcementWorkflow } from '../../../src/workflows/billing-enforcement.js';
import { testPolicy } from '../../support/policy.js';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

let runtimeInstalled = false;
function quietRuntime() {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // already installed in this process
  }
}

let prisma: PrismaClient | undefined;
/** The database as the app sees it: the app's login role (member of billing_app). */
export function db(): PrismaClient {
  prisma ??= createPrisma(inject('databaseUrl'), { max: 5 });
  return prisma;
}

let ownerPrisma: PrismaClient | undefined;
/** As the owner the migrations ran as: only for fixtures the app itself may not do (clearing audit rows). */
export function ownerDb(): PrismaClient {
  ownerPrisma ??= createPrisma(inject('ownerDatabaseUrl'), { max: 2 });
  return ownerPrisma;
}

export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  return startTimeSkippingEnvironment();
}

/**
 * One time-skipping server per test file: started before the first test, stopped after the
 * last; after each test the workflows it left running are terminated.
 */
export function useTimeSkippingEnv(): () => TestWorkflowEnvironment {
  let env: TestWorkflowEnvironment | undefined;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });
  afterEach(terminateLeftovers);
  afterAll(async () => {
    await env?.teardown();
  });
  return () => {
    if (!env) throw new Error('the time-skipping environment is not started');
    return env;
  };
}

/** The Temporal CLI dev server (real time, search attributes registered) for one test file. */
export function useDevServerEnv(): () => TestWorkflowEnvironment {
  let env: TestWorkflowEnvironment | undefined;
  beforeAll(async () => {
    env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: temporalCliExecutable(),
        searchAttributes: SEARCH_ATTRIBUTES,
        extraArgs: ['--log-level', 'error'],
      },
    });
  });
  afterAll(async () => {
    await env?.teardown();
  });
  return () => {
    if (!env) throw new Error('the dev server is not started');
    return env;
  };
}

export { testPolicy };

export function recordingDeps() {
  return recordingActivityDeps(db(), createLogger('silent'), {
    temporalUiUrl: 'http://localhost:8233',
    temporalNamespace: 'default',
    portalUrl: 'https://portal.example.test',
  });
}

/**
 * The production worker (createBillingWorker) on the test server, with the workflow bundle the
 * global setup built once. Tests stop workers at once (no grace time), where production lets
 * running activities finish.
 */
export function createTestWorker(
  env: TestWorkflowEnvironment,
  taskQueue: string,
  activities: BillingWorkerOptions['activities'],
  options: Partial<Pick<BillingWorkerOptions, 'connection' | 'identity'>> = {},
): Promise<Worker> {
  return createBillingWorker({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    activities,
    workflowBundle: { codePath: inject('workflowBundlePath') },
    shutdownGraceTime: 0,
    ...options,
  });
}

export async function startWorker(
  env: TestWorkflowEnvironment,
  deps: ActivityDeps,
  taskQueue = `tq-${randomUUID()}`,
) {
  const worker = await createTestWorker(env, taskQueue, createActivities(deps));
  return { worker, taskQueue };
}

/**
 * A worker that runs for the whole test file (started before the first test, shut down after
 * the last), with the real activities on the recording adapters unless `activities` says
 * otherwise. Returns the task queue it polls.
 */
export function useRunningWorker(
  env: () => TestWorkflowEnvironment,
  activities: (taskQueue: string) => BillingWorkerOptions['activities'] = () =>
    createActivities(recordingDeps()),
): () => string {
  const taskQueue = `tq-${randomUUID()}`;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  beforeAll(async () => {
    worker = await createTestWorker(env(), taskQueue, activities(taskQueue));
    running = worker.run();
  });
  afterAll(async () => {
    worker?.shutdown();
    await running;
  });
  return () => taskQueue;
}

let vmidCounter = 100_000 + Math.floor(Math.random() * 800_000) * 10;

export async function seedAccount(
  options: {
    servers?: ('running' | 'stopped')[];
    exempt?: boolean;
    invoices?: { id?: string; amountDue?: number }[];
  } = {},
) {
  const accountId = `acct_${randomUUID().slice(0, 12)}`;
  const servers = (options.servers ?? ['running', 'stopped']).map((powerState) => ({
    vmid: vmidCounter++,
    powerState,
  }));
  await db().billingAccount.create({
    data: {
      id: accountId,
      stripeCustomerId: `cus_${randomUUID().slice(0, 14)}`,
      email: `${accountId}@customer.example.test`,
      name: 'Test Customer',
      enforcementExempt: options.exempt ?? false,
      exemptReason: options.exempt ? 'partner' : null,
      servers: {
        create: servers.map((s) => ({ vmid: s.vmid, node: 'pve1', kind: 'qemu', powerState: s.powerState })),
      },
    },
  });
  const invoiceIds: string[] = [];
  for (const invoice of options.invoices ?? [{}]) {
    const id = invoice.id ?? `in_${randomUUID().slice(0, 14)}`;
    invoiceIds.push(id);
    await db().invoice.create({
      data: {
        id,
        accountId,
        status: 'open',
        amountDue: invoice.amountDue ?? 2500,
        currency: 'usd',
        hostedInvoiceUrl: `https://invoice.stripe.test/${id}`,
        lastEventCreatedAt: new Date(),
      },
    });
  }
  return { accountId, vmids: servers.map((s) => s.vmid), invoiceIds };
}

const openHandles: WorkflowHandle[] = [];

/**
 * An account with a Stripe customer id and no invoices yet, and the handle of its (future)
 * ladder, terminated after the test.
 */
export async function seedCustomer(env: TestWorkflowEnvironment) {
  const { accountId } = await seedAccount({ invoices: [] });
  const account = await db().billingAccount.findUniqueOrThrow({ where: { id: accountId } });
  const handle = env.client.workflow.getHandle<typeof billingEnforcementWorkflow>(workflowIdFor(accountId));
  openHandles.push(handle);
  return { accountId, customer: account.stripeCustomerId!, handle };
}

/** Ladders a test starts some other way (e.g. through the webhook) are terminated after it too. */
export function terminateAfterTest(handle: WorkflowHandle) {
  openHandles.push(handle);
}

/**
 * Terminates the workflows a test left running: an open workflow whose worker is gone would
 * hold the time-skipping server's clock for the next test.
 */
export async function terminateLeftovers() {
  for (const handle of openHandles.splice(0)) {
    await handle.terminate('test finished').catch(() => undefined);
  }
}

/**
 * The production ladder client for tests. Search attributes are off unless asked for: the
 * time-skipping server cannot register custom ones (no OperatorService).
 */
export function testLadderClient(
  client: Client,
  taskQueue: string,
  options: Partial<Omit<LadderClientOptions, 'client' | 'taskQueue'>> = {},
) {
  return createLadderClient({
    client,
    taskQueue,
    policy: testPolicy(),
    publishSearchAttributes: false,
    ...options,
  });
}

/** Starts the account's ladder the way the webhook does (the ladder client's paymentFailed). */
export async function startLadder(
  env: TestWorkflowEnvironment,
  taskQueue: string,
  accountId: string,
  invoiceId: string,
  policy = testPolicy(),
  extra: Pick<
    LadderClientOptions,
    'continueAsNewAfterEvents' | 'publishSearchAttributes' | 'notificationTaskQueues'
  > = {},
): Promise<LadderHandle> {
  const ladder = testLadderClient(env.client, taskQueue, { policy, ...extra });
  await ladder.paymentFailed(accountId, {
    invoiceId,
    eventId: `evt_${randomUUID()}`,
    at: new Date().toISOString(),
    amountDue: 2500,
    currency: 'usd',
  });
  const handle = ladder.handle(accountId);
  openHandles.push(handle);
  return handle;
}

/** Polls the status query until `predicate` holds (activities run asynchronously to queries). */
export async function waitForStatus(
  handle: WorkflowHandle,
  predicate: (s: EnforcementStatus) => boolean,
  what = 'status',
  timeoutMs = 20_000,
): Promise<EnforcementStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: EnforcementStatus | undefined;
  while (Date.now() < deadline) {
    last = await handle.query(statusQuery);
    if (predicate(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `timed out waiting for ${what}; last status: ${JSON.stringify(last && { state: last.state, history: last.history.map((h) => h.kind) })}`,
  );
}

export const waitForState = (handle: WorkflowHandle, state: BillingState) =>
  waitForStatus(
    handle,
    (s) => s.state === state && s.history.some((h) => h.kind === state),
    `state ${state}`,
  );

export async function eventsOf(accountId: string) {
  return db().billingEnforcementEvent.findMany({ where: { accountId }, orderBy: { createdAt: 'asc' } });
}

export async function notificationsOf(accountId: string) {
  return db().notification.findMany({ where: { accountId }, orderBy: { createdAt: 'asc' } });
}

export async function settle(handle: WorkflowHandle, invoiceId: string, eventId = `evt_${randomUUID()}`) {
  await handle.signal(invoiceSettledSignal, {
    invoiceId,
    how: 'paid',
    eventId,
    at: new Date().toISOString(),
  });
}

export async function failAgain(handle: WorkflowHandle, invoiceId: string, eventId = `evt_${randomUUID()}`) {
  await handle.signal(paymentFailedSignal, {
    invoiceId,
    eventId,
    at: new Date().toISOString(),
    amountDue: 2500,
    currency: 'usd',
  });
}

/**
 * `RECORD_HISTORIES=1 npm run test:integration` rewrites the histories under test/histories/
 * from real runs; test/integration/replay.test.ts replays every committed one.
 */
export async function recordHistory(handle: WorkflowHandle, name: string) {
  if (!process.env.RECORD_HISTORIES) return;
  const history = await handle.fetchHistory();
  // Binary protobuf: encodes the plain history objects the client returns, byte for byte.
  const bytes = proto.temporal.api.history.v1.History.encode(history).finish();
  fs.writeFileSync(path.join(projectRoot, 'test', 'histories', `${name}.pb`), bytes);
}
