// `tsx postgres-process.ts <dataDir> <port>`: a persistent embedded PostgreSQL (a second start
// on the same folder reuses the data). Prints `READY <url>`; SIGTERM stops it cleanly.
import { startEmbeddedPostgres } from '../../../src/dev/embedded-postgres.js';

const [dataDir, port] = process.argv.slice(2);
if (!dataDir || !port) {
  console.error('usage: postgres-process.ts <dataDir> <port>');
  process.exit(2);
}
const pg = await startEmbeddedPostgres({ dataDir, port: Number(port), persistent: true });
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
