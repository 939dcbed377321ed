// Runs an embedded PostgreSQL in its own process:
//   tsx scripts/embedded-postgres-server.ts <dataDir> [<port> --persistent]
// Prints `READY <url>` when it serves; SIGTERM / SIGINT stop it. The test suite runs its
// PostgreSQL this way, outside the test runner's process. The fault suite passes a port and
// --persistent, so a second start on the same folder and port reuses the data (and can stop
// PostgreSQL under running services).
import { startEmbeddedPostgres } from '../src/dev/embedded-postgres.js';

const args = process.argv.slice(2);
const persistent = args.includes('--persistent');
const [dataDir, port] = args.filter((a) => a !== '--persistent');
if (!dataDir) {
  console.error('usage: embedded-postgres-server.ts <dataDir> [<port> --persistent]');
  process.exit(2);
}
const pg = await startEmbeddedPostgres({
  dataDir,
  persistent,
  ...(port ? { port: Number(port) } : {}),
});
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
