import { sleep } from '@temporalio/workflow';

/** A smoke check for a Temporal environment: a durable timer of `days` days. */
export async function sleepDaysWorkflow(days: number): Promise<string> {
  await sleep(`${days} days`, { summary: `Sleep ${days} days` });
  return `slept ${days} days`;
}
