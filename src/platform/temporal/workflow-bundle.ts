// The worker's workflow bundle, built in a short-lived child process. Bundling in the worker
// itself (what `workflowsPath` does) leaves webpack's ~200 MB in a heap that never shrinks back;
// out of process the worker starts a few seconds later and idles at about half the memory.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const workflowsPath = createRequire(import.meta.url).resolve('../../workflows/index.ts');
const script = fileURLToPath(new URL('./bundle-workflows.ts', import.meta.url));

/** The bundle's code, read from the child's output file (which is removed again). */
export async function bundleWorkflowsOutOfProcess(): Promise<{ code: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'billing-workflow-bundle-'));
  const out = path.join(dir, 'workflow-bundle.js');
  try {
    const output: string[] = [];
    const code = await new Promise<number | null>((resolve, reject) => {
      // The same loader flags as this process (`--import tsx`): the script is TypeScript.
      const child = spawn(process.execPath, [...process.execArgv, script, out], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const keep = (chunk: Buffer) => output.push(chunk.toString());
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      child.once('error', reject);
      child.once('exit', resolve);
    });
    if (code !== 0) {
      throw new Error(`bundling the workflows failed (exit ${code}):\n${output.join('').slice(-4000)}`);
    }
    return { code: fs.readFileSync(out, 'utf8') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
