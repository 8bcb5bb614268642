import { AsyncLocalStorage } from 'node:async_hooks';
import pino from 'pino';

export type Logger = pino.Logger;

/** What every log line written while serving one request carries. */
export interface RequestLogContext {
  readonly requestId: string;
}

const requestContext = new AsyncLocalStorage<RequestLogContext>();

/** Runs `fn` with a request context, so every log line written inside it names the request. */
export function withRequestContext<T>(context: RequestLogContext, fn: () => T): T {
  return requestContext.run(context, fn);
}

/**
 * JSON logs on stdout. Request bodies, cookies and tokens are never logged; lines written
 * while serving a request carry its `requestId`.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'latchkey' },
      redact: { paths: ['req.headers.cookie', 'req.headers.authorization', '*.code', '*.token'], censor: '[redacted]' },
      mixin: () => {
        const context = requestContext.getStore();
        return context ? { requestId: context.requestId } : {};
      },
    },
    destination,
  );
}
