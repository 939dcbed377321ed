// The one way the webhook, reconciliation, admin API and CLI talk to enforcement workflows:
// start-or-signal on a failed payment, signal a running ladder, query and update it.
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { policyDetails } from '../platform/policy-summary.js';
import { type billingEnforcementWorkflow } from '../workflows/billing-enforcement.js';
import { type opsAlertWorkflow } from '../workflows/ops-alert.js';
import { type OpsAlert } from '../notifications/ops-alerts.js';
import {
  ADMIN_UPDATES,
  disputeOpenedSignal,
  invoiceSettledSignal,
  paymentFailedSignal,
  statusQuery,
  workflowIdFor,
  type AdminInput,
  type AdminUpdateName,
  type DisputeOpened,
  type EnforcementPolicy,
  type EnforcementStatus,
  type ExtendGraceInput,
  type InvoiceSettled,
  type NotificationTaskQueues,
  type PaymentFailed,
} from '../workflows/definitions.js';

export interface LadderClientOptions {
  client: Client;
  taskQueue: string;
  /** The policy a new ladder starts with; a running one keeps its own. */
  policy: EnforcementPolicy;
  /** Off only against the time-skipping test server (it cannot register custom attributes). */
  publishSearchAttributes?: boolean;
  /**
   * Where new ladders send their notifications (notificationTaskQueuesFor(taskQueue) in
   * production, where src/worker.ts serves those queues); absent: on the ladder's own queue.
   */
  notificationTaskQueues?: NotificationTaskQueues;
  /**
   * New ladders continue as new after this many history events as well as when the server
   * suggests it (tests set a small number to exercise the hand-over); absent: only then.
   */
  continueAsNewAfterEvents?: number;
  /**
   * Deadline for each start/signal call: with Temporal down, the caller (a webhook Stripe will
   * retry) gets an error in seconds rather than hanging in the client's own retries.
   */
  rpcTimeoutMs?: number;
}

export type LadderHandle = WorkflowHandle<typeof billingEnforcementWorkflow>;

export type AdminUpdateInput<N extends AdminUpdateName> = N extends 'extendGrace'
  ? ExtendGraceInput
  : AdminInput;

export function createLadderClient(options: LadderClientOptions) {
  const { client } = options;
  const timeoutMs = options.rpcTimeoutMs ?? 8_000;
  const bounded = <R>(fn: () => Promise<R>) => client.withDeadline(Date.now() + timeoutMs, fn);
  const handle = (accountId: string): LadderHandle =>
    client.workflow.getHandle<typeof billingEnforcementWorkflow>(workflowIdFor(accountId));

  /** Signals a ladder that may have ended: `false` when there is no running one to tell. */
  async function signalIfRunning(run: () => Promise<void>): Promise<boolean> {
    try {
      await bounded(run);
      return true;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return false;
      throw error;
    }
  }

  return {
    handle,

    /** Starts the account's ladder, or tells the running one; the workflow ignores repeats. */
    async paymentFailed(accountId: string, signal: PaymentFailed): Promise<{ runId: string }> {
      const started = await bounded(() =>
        client.workflow.signalWithStart<typeof billingEnforcementWorkflow, [PaymentFailed]>(
          'billingEnforcementWorkflow',
          {
            workflowId: workflowIdFor(accountId),
            taskQueue: options.taskQueue,
            args: [
              {
                accountId,
                policy: options.policy,
                publishSearchAttributes: options.publishSearchAttributes ?? true,
                ...(options.notificationTaskQueues
                  ? { notificationTaskQueues: options.notificationTaskQueues }
                  : {}),
                ...(options.continueAsNewAfterEvents
                  ? { continueAsNewAfterEvents: options.continueAsNewAfterEvents }
                  : {}),
              },
            ],
            signal: paymentFailedSignal,
            signalArgs: [signal],
            staticSummary: `Billing enforcement for ${accountId}`,
            // The input holds the policy in milliseconds; `temporal workflow describe` and the
            // UI show this next to it (a run continued as new shows it in its current details).
            staticDetails: policyDetails(options.policy),
          },
        ),
      );
      return { runId: started.signaledRunId };
    },

    invoiceSettled(accountId: string, signal: InvoiceSettled): Promise<boolean> {
      return signalIfRunning(() => handle(accountId).signal(invoiceSettledSignal, signal));
    },

    disputeOpened(accountId: string, signal: DisputeOpened): Promise<boolean> {
      return signalIfRunning(() => handle(accountId).signal(disputeOpenedSignal, signal));
    },

    /**
     * Hands an ops alert to Temporal: a workflow (one per alert key) posts it with retries. An
     * alert already handed over is not started again.
     */
    async opsAlert(alert: OpsAlert): Promise<void> {
      try {
        await bounded(() =>
          client.workflow.start<typeof opsAlertWorkflow>('opsAlertWorkflow', {
            workflowId: `ops-alert:${alert.key}`,
            taskQueue: options.taskQueue,
            workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
            args: [
              {
                accountId: alert.accountId,
                idempotencyKey: alert.key,
                title: alert.title,
                detail: alert.detail,
                ...(options.notificationTaskQueues
                  ? { notificationTaskQueue: options.notificationTaskQueues.discordOps }
                  : {}),
              },
            ],
            staticSummary: alert.title,
          }),
        );
      } catch (error) {
        if (error instanceof WorkflowExecutionAlreadyStartedError) return;
        throw error;
      }
    },

    /** Whether the account has a ladder running now. */
    async isRunning(accountId: string): Promise<boolean> {
      try {
        const description = await bounded(() => handle(accountId).describe());
        return description.status.name === 'RUNNING';
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) return false;
        throw error;
      }
    },

    /** The workflow's own view (also of a finished run); `null` when the account never had one. */
    async status(accountId: string): Promise<EnforcementStatus | null> {
      try {
        return await bounded(() => handle(accountId).query(statusQuery));
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) return null;
        throw error;
      }
    },

    /** An admin update; the workflow validates it, applies it and writes the audit row. */
    update<N extends AdminUpdateName>(
      accountId: string,
      name: N,
      input: AdminUpdateInput<N>,
    ): Promise<EnforcementStatus> {
      const definition = ADMIN_UPDATES[name] as (typeof ADMIN_UPDATES)['pause'];
      return handle(accountId).executeUpdate(definition, { args: [input] });
    },
  };
}

export type LadderClient = ReturnType<typeof createLadderClient>;
