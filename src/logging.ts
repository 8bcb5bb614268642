import pino from 'pino';

export type Logger = pino.Logger;

/** JSON logs on stdout. Request bodies, cookies and tokens are never logged. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'latchkey' },
    redact: { paths: ['req.headers.cookie', 'req.headers.authorization', '*.code', '*.token'], censor: '[redacted]' },
  });
}
