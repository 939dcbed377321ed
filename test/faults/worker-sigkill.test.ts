// The worker is killed with SIGKILL in the middle of activities, again and again, while ladders
// with a seconds-long policy run on the Temporal dev server; a new worker finishes every ladder.
// Providers are stand-ins that count what reached them: Resend (emails), Discord (posts),
// Proxmox (power actions). The worker reaches PostgreSQL through a proxy that can freeze the
// link: with it frozen, every activity in flight hangs at its next query, so describing the
// workflows shows which activities are running at that moment, and the kill lands inside them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from './support/processes.js';
import {
  expectNothingLostOrDoubled,
  providerTally,
  running,
  scheduledActivities,
  startSigkillRig,
  tallyLines,
  type SigkillRig,
} from './support/sigkill-rig.js';

const LADDERS = 8;
/** Kill rounds stop after this; the ladders then finish on the last worker. */
const KILL_PHASE_MS = Number(process.env.FAULTS_KILL_PHASE_MS ?? 240_000);
const PENDING_ACTIVITY_STATE_STARTED = 2;

interface Kill {
  workflowId: string;
  activityId: string;
  activityType: string;
  attempt: number;
}

describe('worker killed with SIGKILL inside activities', () => {
  let rig: SigkillRig;
  beforeAll(async () => {
    rig = await startSigkillRig('sigkill');
  });
  afterAll(async () => {
    await rig?.close();
  });

  it('a new worker finishes every ladder: nothing lost, no email, post or power action twice', async () => {
    await rig.restartWorker();
    // Staggered, so that at any moment the ladders are in different activities.
    const ladders = await rig.startLadders(LADDERS, 1500);
    const handles = ladders.map((l) => l.handle);

    const kills: Kill[] = [];
    const seen = new Set<string>();
    const killPhaseEnds = Date.now() + KILL_PHASE_MS;
    let rounds = 0;
    while (Date.now() < killPhaseEnds && (await running(ladders)) > 0) {
      await rig.settleDue(ladders);
      await sleep(300 + Math.random() * 2500);
      rounds++;
      rig.proxy.hold();
      let caught: Kill[] = [];
      const waitUntil = Date.now() + 4000;
      while (Date.now() < waitUntil) {
        const descriptions = await Promise.all(handles.map((h) => h.describe()));
        caught = descriptions.flatMap((d) =>
          (d.raw.pendingActivities ?? [])
            .filter((p) => Number(p.state) === PENDING_ACTIVITY_STATE_STARTED)
            .map((p) => ({
              workflowId: d.workflowId,
              activityId: String(p.activityId),
              activityType: p.activityType?.name ?? '?',
              attempt: p.attempt ?? 1,
            }))
            .filter((k) => !seen.has(`${k.workflowId}/${k.activityId}/${k.attempt}`)),
        );
        if (caught.length) break;
        await sleep(100);
      }
      if (!caught.length) {
        rig.proxy.release();
        continue;
      }
      await rig.worker()?.kill();
      rig.proxy.release();
      for (const k of caught) {
        seen.add(`${k.workflowId}/${k.activityId}/${k.attempt}`);
        kills.push(k);
      }
      process.stderr.write(
        `[faults] round ${rounds}: SIGKILL inside ${caught.map((k) => k.activityType).join(', ')}\n`,
      );
      await rig.restartWorker();
    }

    // No more kills: the last worker finishes. A killed activity comes back after its
    // start-to-close (1-2 min) or heartbeat (5 min, server stops) timeout.
    await rig.finish(ladders, 9 * 60_000);
    const tally = await providerTally(rig, ladders);

    // Which rung each killed activity belonged to.
    const caughtPairs = new Set<string>();
    for (const ladder of ladders) {
      for (const a of await scheduledActivities(ladder.handle)) {
        if (kills.some((k) => k.workflowId === ladder.handle.workflowId && k.activityId === a.activityId))
          caughtPairs.add(`${a.rung}/${a.activityType}`);
      }
    }

    process.stderr.write(
      [
        `[faults] SIGKILL: ${kills.length} activities killed in ${rounds} rounds; (rung/activity) pairs caught: ${caughtPairs.size}`,
        `[faults]   ${[...caughtPairs].sort().join(', ')}`,
        ...tallyLines(tally, LADDERS),
        '',
      ].join('\n'),
    );

    expect(kills.length).toBeGreaterThan(0);
    expectNothingLostOrDoubled(tally, LADDERS);
  });
});
