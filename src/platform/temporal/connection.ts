import fs from 'node:fs';
import { Connection, Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { type Env } from '../config.js';

type TemporalEnv = Pick<
  Env,
  | 'TEMPORAL_ADDRESS'
  | 'TEMPORAL_API_KEY'
  | 'TEMPORAL_TLS'
  | 'TEMPORAL_TLS_CERT_PATH'
  | 'TEMPORAL_TLS_KEY_PATH'
  | 'TEMPORAL_TLS_CA_PATH'
>;

/** TLS / API-key options for Temporal Cloud or a secured cluster; plain TCP for local servers. */
function tlsOptions(env: TemporalEnv) {
  const mtls = env.TEMPORAL_TLS_CERT_PATH && env.TEMPORAL_TLS_KEY_PATH;
  if (!env.TEMPORAL_TLS && !mtls && !env.TEMPORAL_API_KEY) return {};
  return {
    tls: {
      ...(env.TEMPORAL_TLS_CA_PATH
        ? { serverRootCACertificate: fs.readFileSync(env.TEMPORAL_TLS_CA_PATH) }
        : {}),
      ...(mtls
        ? {
            clientCertPair: {
              crt: fs.readFileSync(env.TEMPORAL_TLS_CERT_PATH!),
              key: fs.readFileSync(env.TEMPORAL_TLS_KEY_PATH!),
            },
          }
        : {}),
    },
    ...(env.TEMPORAL_API_KEY ? { apiKey: env.TEMPORAL_API_KEY } : {}),
  };
}

export async function connectClient(env: TemporalEnv & Pick<Env, 'TEMPORAL_NAMESPACE'>): Promise<Client> {
  // A short deadline per attempt: start-up waits retry it (src/platform/dependencies.ts).
  const connection = await Connection.connect({
    address: env.TEMPORAL_ADDRESS,
    connectTimeout: 5_000,
    ...tlsOptions(env),
  });
  return new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
}

export function connectWorker(env: TemporalEnv): Promise<NativeConnection> {
  return NativeConnection.connect({ address: env.TEMPORAL_ADDRESS, ...tlsOptions(env) });
}
