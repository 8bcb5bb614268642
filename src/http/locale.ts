import type { Context, Middleware } from 'koa';
import type { Locale } from '../i18n/index.ts';
import { negotiateLocale } from '../i18n/negotiate.ts';

/**
 * Picks every request's language from its Accept-Language header (or the operator's default)
 * into `ctx.state.locale`, before anything can fail, so error pages speak it too. Pages of an
 * authorization request refine it with the request's `ui_locales` (`useUiLocales`).
 */
export function negotiateRequestLocale(defaultLocale: Locale): Middleware {
  return async (ctx, next) => {
    ctx.state.defaultLocale = defaultLocale;
    ctx.state.locale = negotiateLocale({ acceptLanguage: ctx.get('accept-language'), fallback: defaultLocale });
    await next();
  };
}

/** The request's language; with `uiLocales` (an authorization request's ui_locales), that wins when it names a supported one. */
export function localeOf(ctx: Context, uiLocales?: unknown): Locale {
  const fallback: Locale = ctx.state.defaultLocale ?? 'en';
  if (uiLocales === undefined) return ctx.state.locale ?? negotiateLocale({ acceptLanguage: ctx.get('accept-language'), fallback });
  return negotiateLocale({ uiLocales, acceptLanguage: ctx.get('accept-language'), fallback });
}

/** Makes an authorization request's ui_locales the language of this request from here on (pages, errors). */
export function useUiLocales(ctx: Context, uiLocales: unknown): Locale {
  const locale = localeOf(ctx, uiLocales);
  ctx.state.locale = locale;
  return locale;
}
