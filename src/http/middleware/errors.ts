import type { Context, Middleware } from 'koa';
import { errors as oidcErrors } from 'oidc-provider';
import { DomainError, type ErrorCode } from '../../domain/errors.ts';
import { PASSKEY_NAME_MAX } from '../../domain/account/passkey-names.ts';
import { errorMessage, translate } from '../../i18n/index.ts';
import type { Logger } from '../../logging.ts';
import { localeOf } from '../locale.ts';
import type { ClientView } from '../client-view.ts';
import type { Render } from '../views.ts';

interface PublicError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

const UNAVAILABLE = /SQLITE_BUSY|SQLITE_LOCKED|SQLITE_CANTOPEN|ECONNREFUSED|ECONNRESET|Timeout acquiring a connection|Unable to acquire a connection|terminating connection|Connection terminated/;

/** True when an error means the database cannot be reached or is busy (a retry may succeed). */
export function isStorageUnavailable(error: unknown): boolean {
  const e = error as { code?: string; message?: string } | null;
  return UNAVAILABLE.test(`${e?.code ?? ''} ${e?.message ?? ''}`);
}

/** Turns any error into what may be shown; internal causes stay in the log. */
export function toPublicError(error: unknown): PublicError {
  if (error instanceof DomainError) return { status: error.status, code: error.code, message: error.message };
  if (error instanceof oidcErrors.SessionNotFound || error instanceof oidcErrors.InvalidRequest) {
    return { status: 400, code: 'interaction_not_found', message: 'This sign-in has expired or was opened in another browser. Go back to the application and start again.' };
  }
  if (error instanceof oidcErrors.OIDCProviderError && error.status < 500) {
    return { status: error.status, code: error.error, message: error.error_description ?? error.message };
  }
  const e = error as { status?: number; type?: string; expose?: boolean; message?: string; code?: string } | null;
  if (e?.status === 413 || e?.type === 'entity.too.large') {
    return { status: 413, code: 'payload_too_large' satisfies ErrorCode, message: 'The request is too large.' };
  }
  // Body parsers and koa report client errors with a 4xx status (not always marked `expose`).
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    return { status: e.status, code: 'invalid_request', message: 'The request could not be read.' };
  }
  if (isStorageUnavailable(error)) {
    return { status: 503, code: 'database_unavailable', message: 'The service is temporarily unavailable. Please try again in a moment.' };
  }
  return { status: 500, code: 'server_error', message: 'Something went wrong on our side. Please try again.' };
}

function wantsJson(ctx: Context): boolean {
  return ctx.accepts('html', 'json') === 'json' || ctx.is('application/json') === 'application/json';
}

/**
 * The one place errors become responses: JSON problem details (RFC 9457) for API and fetch()
 * callers, a readable page for people. Never a stack trace.
 */
export function errorHandler(logger: Logger, render: Render, options: { clientOf?: (ctx: Context) => Promise<ClientView | undefined> } = {}): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      const shown = toPublicError(error);
      if (shown.status >= 500) logger.error({ err: error, path: ctx.path }, 'request failed');
      else logger.debug({ code: shown.code, path: ctx.path, cause: (error as Error)?.cause }, 'request refused');
      ctx.status = shown.status;
      if (shown.status === 503) ctx.set('Retry-After', '5');
      const retryAfter = (error as { retryAfterSeconds?: unknown }).retryAfterSeconds;
      if (typeof retryAfter === 'number') ctx.set('Retry-After', String(retryAfter));
      // People read the sentence in their language (the page scripts show a JSON problem's title).
      const locale = localeOf(ctx);
      const message = errorMessage(locale, shown.code, shown.message, { max: PASSKEY_NAME_MAX });
      if (wantsJson(ctx)) {
        ctx.type = 'application/problem+json';
        ctx.body = { type: 'about:blank', title: message, status: shown.status, code: shown.code };
      } else {
        // Within a sign-in, the page still names the application it is for.
        const client = await options.clientOf?.(ctx).catch(() => undefined);
        ctx.type = 'html';
        ctx.body = render('error.njk', locale, { title: translate(locale, 'errorPage.title'), error: shown.code, description: message, client });
      }
    }
  };
}
