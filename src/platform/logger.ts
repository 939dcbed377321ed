import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * JSON logs. Customer emails, names, secrets and raw webhook payloads never go to logs: the
 * redaction list is a second line of defence behind not logging them in the first place.
 */
export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info', name = 'billing'): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: [
        'email',
        '*.email',
        'to',
        '*.to',
        '*.name',
        'authorization',
        '*.authorization',
        'payload',
        '*.payload',
        'secret',
        '*.secret',
        'token',
        '*.token',
      ],
      censor: '[redacted]',
    },
  });
}
