// The worker's two Prometheus endpoints (docs/runbook.md, "Metrics"):
//   WORKER_METRICS_ADDRESS          Temporal's own worker/runtime metrics (temporal_*), served by
//                                   the SDK's Rust core; it must be set up before any connection.
//   WORKER_SERVICE_METRICS_ADDRESS  this service's counters (billing_*) from prom-client.
// Two listeners rather than one merged page: the core exporter is native code with its own
// server, and proxying its page through Node would add a failure mode for no gain — Prometheus
// scrapes two targets as easily as one.
import http from 'node:http';
import { makeTelemetryFilterString, Runtime, type RuntimeOptions } from '@temporalio/worker';
import { Gauge } from 'prom-client';
import { type Logger } from '../logger.js';
import { temporalLogger } from '../temporal/sdk-logger.js';
import { registry } from './metrics.js';

const temporalExporterUp = new Gauge({
  name: 'billing_worker_temporal_metrics_exporter_up',
  help: "1 when the worker's Temporal runtime metrics endpoint is listening, 0 when it could not bind",
  registers: [registry],
});

/**
 * Installs the Temporal runtime with its Prometheus exporter. A metrics port that cannot be bound
 * must not stop enforcement: the runtime is installed without the exporter and the failure is
 * logged and shown as billing_worker_temporal_metrics_exporter_up 0.
 */
export function installTemporalRuntime(address: string | undefined, logger: Logger): boolean {
  // The SDK's own lines, and the Rust core's (forwarded), through our JSON logger.
  const logging: RuntimeOptions = {
    logger: temporalLogger(logger),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} } },
  };
  if (!address) {
    Runtime.install(logging);
    temporalExporterUp.set(0);
    return false;
  }
  try {
    Runtime.install({
      ...logging,
      telemetryOptions: {
        ...logging.telemetryOptions,
        metrics: { prometheus: { bindAddress: address } },
      },
    });
    temporalExporterUp.set(1);
    return true;
  } catch (error) {
    logger.error(
      { address, err: error instanceof Error ? error.message : String(error) },
      'Temporal runtime metrics exporter could not start; running without it',
    );
    Runtime.install(logging);
    temporalExporterUp.set(0);
    return false;
  }
}

function splitAddress(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
}

/** Serves the service registry on GET /metrics; resolves once listening. */
export async function serveServiceMetrics(
  address: string,
  logger: Logger,
): Promise<{ address: string; close: () => Promise<void> }> {
  const server = http.createServer((request, response) => {
    if (request.method !== 'GET' || (request.url ?? '/').split('?')[0] !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (body) => response.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (error: unknown) => {
        logger.error({ err: String(error) }, 'metrics collection failed');
        response.writeHead(500).end();
      },
    );
  });
  const { host, port } = splitAddress(address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  // Prometheus keeps its connection open between scrapes: do not let it hold up shutdown.
  server.keepAliveTimeout = 5_000;
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
