// Where the Temporal binaries are: an env override, else what scripts/bootstrap.mjs resolved
// (.tools/toolchain.json), else the SDK's own download.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Manifest {
  temporalCli?: { source: string; path: string | null; hint?: string };
  testServer?: { source: string; path: string | null; hint?: string };
}

function manifest(): Manifest {
  const file = path.join(projectRoot, '.tools', 'toolchain.json');
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest) : {};
}

export type ServerExecutable = { type: 'existing-path'; path: string } | { type: 'cached-download' };

export function temporalCliExecutable(): ServerExecutable {
  const p = process.env.TEMPORAL_CLI_PATH ?? manifest().temporalCli?.path;
  return p ? { type: 'existing-path', path: p } : { type: 'cached-download' };
}

export function testServerExecutable(): ServerExecutable {
  const p = process.env.TEMPORAL_TEST_SERVER_PATH ?? manifest().testServer?.path;
  return p ? { type: 'existing-path', path: p } : { type: 'cached-download' };
}

export function toolchainHint(which: 'temporalCli' | 'testServer'): string {
  return manifest()[which]?.hint ?? 'Run `npm run bootstrap` to install the Temporal servers.';
}
