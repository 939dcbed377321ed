// The Temporal SDK's own log lines (the worker's, and the Rust core's when forwarded) go through
// the service's pino logger, so a process writes one stream of JSON lines.
import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import type { Logger } from '../logger.js';

/**
 * Lines the SDK writes at WARN that are expected here: the notification workers poll activity
 * task queues only, by design (rate-limited queues for emails and Discord posts).
 */
const EXPECTED = [
  /^No workflows registered, not polling for workflow tasks/,
  /^No Nexus services registered/,
];

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

export function temporalLogger(logger: Logger): TemporalLogger {
  const sdk = logger.child({ component: 'temporal-sdk' });
  const log = (level: LogLevel, message: string, meta?: LogMetadata) => {
    const method = EXPECTED.some((re) => re.test(message)) ? 'debug' : LEVELS[level];
    sdk[method](meta ?? {}, message);
  };
  return {
    log,
    trace: (message, meta) => log('TRACE', message, meta),
    debug: (message, meta) => log('DEBUG', message, meta),
    info: (message, meta) => log('INFO', message, meta),
    warn: (message, meta) => log('WARN', message, meta),
    error: (message, meta) => log('ERROR', message, meta),
  };
}
