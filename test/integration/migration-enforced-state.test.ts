// The migration that added BillingAccount.enforcedState also fills in the mode of ladders whose
// last transition was written before "policyDryRun" was: from that transition's audit row. Its
// UPDATE runs here again on rows made to look like that.
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { db, seedAccount } from './support/harness.js';

const migration = fs.readFileSync(
  path.join(import.meta.dirname, '../../prisma/migrations/20261201050000_enforced_state/migration.sql'),
  'utf8',
);
const backfill = migration.slice(migration.indexOf('UPDATE "BillingAccount"'));

async function olderLadder(state: 'active' | 'suspended', transitions: { dryRun: boolean; at: string }[]) {
  const { accountId } = await seedAccount();
  await db().billingAccount.update({ where: { id: accountId }, data: { state, policyDryRun: null } });
  for (const [n, t] of transitions.entries()) {
    await db().billingEnforcementEvent.create({
      data: {
        accountId,
        kind: n === 0 ? 'transition:overdue' : 'transition:suspended',
        step: `${n}`,
        actor: 'workflow',
        dryRun: t.dryRun,
        detail: {},
        idempotencyKey: randomUUID(),
        occurredAt: new Date(t.at),
      },
    });
  }
  return accountId;
}

const modeOf = async (id: string) =>
  (await db().billingAccount.findUniqueOrThrow({ where: { id }, select: { policyDryRun: true } })).policyDryRun;

describe('migration 20261201050000_enforced_state', () => {
  it("takes a ladder's mode from its last transition's audit row; leaves active accounts and recorded modes alone", async () => {
    const dry = await olderLadder('suspended', [
      { dryRun: false, at: '2030-01-01T00:00:00Z' },
      { dryRun: true, at: '2030-01-06T00:00:00Z' },
    ]);
    const real = await olderLadder('suspended', [{ dryRun: false, at: '2030-01-01T00:00:00Z' }]);
    const active = await olderLadder('active', [{ dryRun: true, at: '2030-01-01T00:00:00Z' }]);
    const recorded = await olderLadder('suspended', [{ dryRun: true, at: '2030-01-01T00:00:00Z' }]);
    await db().billingAccount.update({ where: { id: recorded }, data: { policyDryRun: false } });
    const none = await olderLadder('suspended', []);
    await db().$executeRawUnsafe(backfill);
    expect(await modeOf(dry)).toBe(true);
    expect(await modeOf(real)).toBe(false);
    expect(await modeOf(active)).toBeNull();
    expect(await modeOf(recorded)).toBe(false);
    expect(await modeOf(none)).toBeNull();
  });
});
