// What an activity knows about its own run: which attempt this is, and how to heartbeat. Both
// also work outside an activity (tests and the CLI call the functions directly).
import { Context } from '@temporalio/activity';

export function attempt(): number {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1; // not inside an activity
  }
}

export function heartbeat(details: unknown): void {
  try {
    Context.current().heartbeat(details);
  } catch {
    // not inside an activity
  }
}
