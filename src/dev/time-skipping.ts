import { TestWorkflowEnvironment } from '@temporalio/testing';
import { testServerExecutable } from './toolchain.js';

/** Starts of the time-skipping server tried before giving up. */
const START_ATTEMPTS = 3;

/**
 * The time-skipping test server (a JVM) from the toolchain. Temporal's core gives it a fixed
 * five seconds to listen; on a loaded machine it took longer and a whole test file failed (CI),
 * so a start that timed out is tried again. Any other failure is thrown at once.
 */
export async function startTimeSkippingEnvironment(): Promise<TestWorkflowEnvironment> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await TestWorkflowEnvironment.createTimeSkipping({
        server: { executable: testServerExecutable() },
      });
    } catch (error) {
      // The native bridge reports core's start-up timeout as a plain Error: only its text tells.
      const timedOut = error instanceof Error && error.message.includes('did not start within');
      if (!timedOut || attempt >= START_ATTEMPTS) throw error;
    }
  }
}
