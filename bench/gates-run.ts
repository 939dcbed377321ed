// The gate benchmark (bench/gates.ts, its own engineer's) run as it is, in its own process with
// --json, so its figures land in the same report.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../src/dev/toolchain.js';
import { progress } from './lib.js';

export async function runGates(quick: boolean): Promise<Record<string, unknown>> {
  const args = quick ? ['--duration', '5', '--accounts', '2000'] : [];
  progress(`gates: bench/gates.ts --json ${args.join(' ')}`);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join('bench', 'gates.ts'), '--json', ...args],
    {
      cwd: projectRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => process.stderr.write(c));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  const json = out.slice(out.indexOf('{'));
  try {
    return { ...(JSON.parse(json) as Record<string, unknown>), exitCode: code, args };
  } catch {
    throw new Error(`bench/gates.ts exited ${code} without JSON:\n${out.slice(-2000)}`);
  }
}
