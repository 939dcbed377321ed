import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * JSON logs. Customer emails, names, secrets and raw webhook payloads never go to logs: the
 * redaction list is a second line of defence behind not logging them in the first place.
 */
export function createLogger(
  level: string = process.env.LOG_LEVEL ?? 'info',
  name = 'billing',
  destination?: DestinationStream,
): Logger {
  const options = {
    name,
    level,
    serializers: {
      // The path only: a query string can carry what a caller should not have put there
      // (`?token=`, an email), and the routes that take queries log what they use themselves.
      req: (req: { method?: string; url?: string; ip?: string }) => ({
        method: req.method,
        url: req.url?.split('?')[0],
        remoteAddress: req.ip,
      }),
    },
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
  };
  return destination ? pino(options, destination) : pino(options);
}
