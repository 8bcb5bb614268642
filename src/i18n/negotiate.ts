import { isLocale, type Locale } from './index.ts';

/** One language range of an Accept-Language header with its weight. */
interface Range {
  readonly tag: string;
  readonly q: number;
  readonly order: number;
}

/** Accept-Language ranges, best first (RFC 9110 §12.5.4): q=0 means "not this one"; ties keep their order. */
export function parseAcceptLanguage(header: string | undefined): string[] {
  if (!header) return [];
  const ranges: Range[] = [];
  header.split(',').forEach((part, order) => {
    const [rawTag, ...attributes] = part.trim().split(';');
    const tag = rawTag?.trim().toLowerCase();
    if (!tag || !/^(\*|[a-z]{1,8}(-[a-z0-9]{1,8})*)$/.test(tag)) return;
    let q = 1;
    for (const attribute of attributes) {
      const [name, value] = attribute.split('=').map((s) => s.trim());
      if (name?.toLowerCase() !== 'q') continue;
      // A malformed weight makes the range meaningless: skip it rather than guess.
      q = value !== undefined && /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(value) ? Number(value) : -1;
    }
    if (q > 0) ranges.push({ tag, q, order });
  });
  return ranges.sort((a, b) => b.q - a.q || a.order - b.order).map((r) => r.tag);
}

/** The supported language a tag names, falling back to its base language (de-AT → de). */
export function supportedLocale(tag: string): Locale | undefined {
  const lower = tag.toLowerCase();
  if (isLocale(lower)) return lower;
  const base = lower.split('-')[0];
  return isLocale(base) ? base : undefined;
}

/**
 * The language of a page or mail: the authorization request's `ui_locales` (space-separated,
 * in order of preference) wins, then the browser's Accept-Language, then the operator's default.
 */
export function negotiateLocale(input: { uiLocales?: unknown; acceptLanguage?: string | undefined; fallback: Locale }): Locale {
  if (typeof input.uiLocales === 'string') {
    for (const tag of input.uiLocales.split(/\s+/).filter(Boolean)) {
      const locale = supportedLocale(tag);
      if (locale) return locale;
    }
  }
  for (const tag of parseAcceptLanguage(input.acceptLanguage)) {
    if (tag === '*') return input.fallback;
    const locale = supportedLocale(tag);
    if (locale) return locale;
  }
  return input.fallback;
}
