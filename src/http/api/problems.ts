import type { Middleware } from 'koa';
import type { Logger } from '../../logging.ts';
import { toPublicError } from '../middleware/errors.ts';

/**
 * Every management API error is an RFC 9457 problem document with a stable `code`, whatever
 * the caller's Accept header says (the app-wide handler would show people a page).
 */
export function apiProblems(logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        problem(ctx, 404, 'not_found', 'There is nothing at this address.');
      } else if (ctx.status === 405 && (ctx.body === undefined || typeof ctx.body === 'string')) {
        problem(ctx, 405, 'method_not_allowed', 'This method is not allowed here.');
      }
    } catch (error) {
      const shown = toPublicError(error);
      if (shown.status >= 500) logger.error({ err: error, path: ctx.path }, 'API request failed');
      problem(ctx, shown.status, shown.code, shown.message);
      if (shown.status === 503) ctx.set('Retry-After', '5');
    }
  };
}

function problem(ctx: Parameters<Middleware>[0], status: number, code: string, detail: string): void {
  ctx.status = status;
  ctx.type = 'application/problem+json';
  ctx.body = { type: 'about:blank', title: detail, status, code, detail };
}
