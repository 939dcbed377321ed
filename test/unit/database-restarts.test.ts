// surviveDatabaseRestarts: a dropped PostgreSQL connection surfacing as an uncaught exception is
// survived (logged); any other uncaught exception still ends the process. In a child process,
// because the point is what happens to a process.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..', '..');

function runWith(thrown: string) {
  const script = `
    import { surviveDatabaseRestarts } from './src/platform/database.ts';
    surviveDatabaseRestarts((message) => console.log('survived:', message));
    setTimeout(() => { throw ${thrown}; }, 10);
    setTimeout(() => { console.log('still running'); process.exit(0); }, 200);
  `;
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, DATABASE_URL: 'postgresql://unused@localhost/unused' },
  });
}

describe('surviveDatabaseRestarts', () => {
  it('survives PostgreSQL ending a connection (57P01, administrator command)', () => {
    const result = runWith(
      `Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })`,
    );
    expect(result.stdout).toContain('survived: PostgreSQL closed a connection');
    expect(result.stdout).toContain('still running');
    expect(result.status).toBe(0);
  });

  it('still ends the process on any other uncaught exception', () => {
    const result = runWith(`new TypeError('a bug')`);
    expect(result.stdout).not.toContain('still running');
    expect(result.stderr).toContain('a bug');
    expect(result.status).toBe(1);
  });
});
