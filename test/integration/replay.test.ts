// Replays histories recorded from real runs (test/histories/*.pb, binary protobuf) against today's workflow
// code: a change that would break running workflows (nondeterminism) fails here. Re-record
// with `RECORD_HISTORIES=1 npm run test:integration` only when a change is deliberate and
// guarded with patched().
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { projectRoot } from '../../src/dev/toolchain.js';

const dir = path.join(projectRoot, 'test', 'histories');
const files = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.pb'))
  .sort();

describe('replay of recorded histories', () => {
  it('covers the required scenarios', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'circuit-breaker-hold-released.pb',
        'full-ladder-to-deletion-review.pb',
        'paid-at-final-warning.pb',
        'paid-during-suspension-flag-read.pb',
        'paid-during-suspension-flag-read-restored-in-one-activity.pb',
        'paid-while-notifications-queued.pb',
        'paid-while-notifications-queued-restored-in-one-activity.pb',
        'pause-extend-resume-approve-force-restore.pb',
        'policy-adopted-minimum-notice.pb',
        'policy-adopted-minimum-notice-recorded-on-account.pb',
        'policy-dry-run-to-enforce.pb',
        'policy-dry-run-to-enforce-recorded-on-account.pb',
        'policy-enforce-to-dry-run-brake.pb',
        'policy-enforce-to-dry-run-brake-recorded-on-account.pb',
        'reminder-then-final-warning.pb',
      ]),
    );
  });

  it('every history replays without nondeterminism', async () => {
    const histories = files.map((file) => ({
      workflowId: file.replace(/\.pb$/, ''),
      history: proto.temporal.api.history.v1.History.decode(fs.readFileSync(path.join(dir, file))),
    }));
    const results: { workflowId: string; error?: unknown }[] = [];
    for await (const result of Worker.runReplayHistories(
      { workflowBundle: { codePath: inject('workflowBundlePath') } },
      histories,
    )) {
      results.push({ workflowId: result.workflowId, error: result.error });
    }
    expect(results.map((r) => r.workflowId).sort()).toEqual(histories.map((h) => h.workflowId).sort());
    expect(results.filter((r) => r.error).map((r) => `${r.workflowId}: ${String(r.error)}`)).toEqual([]);
  });
});
