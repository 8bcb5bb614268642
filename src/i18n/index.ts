import { de } from './de.ts';
import { en, type MessageKey, type Messages } from './en.ts';
import { es } from './es.ts';

export type { MessageKey, Messages } from './en.ts';

/** The languages the hosted pages and mails speak, English first (the source of truth). */
export const LOCALES = ['en', 'de', 'es'] as const;
export type Locale = (typeof LOCALES)[number];

const CATALOGUES: Record<Locale, Messages> = { en, de, es };

/** Values put into a message's {placeholders}. */
export type MessageParams = Readonly<Record<string, string | number>>;

export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && Object.hasOwn(CATALOGUES, value);
}

/** A message of the catalogue in this language, with its {placeholders} filled in (plain text). */
export function translate(locale: Locale, key: MessageKey, params: MessageParams = {}): string {
  return fill(CATALOGUES[locale][key], (name) => (name in params ? String(params[name]) : `{${name}}`));
}

/** Replaces each {name} with what `value` gives for it. */
export function fill(message: string, value: (name: string) => string): string {
  return message.replace(/\{(\w+)\}/g, (_, name: string) => value(name));
}

/** The {placeholders} a message uses, sorted (the catalogue test compares them across languages). */
export function placeholdersOf(message: string): string[] {
  return [...message.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();
}

/** The messages a page script needs, in the page's language (sent in a JSON data block). */
export function scriptMessages(locale: Locale): Record<string, string> {
  const catalogue = CATALOGUES[locale];
  return Object.fromEntries(Object.entries(catalogue).filter(([key]) => key.startsWith('js.')).map(([key, text]) => [key.slice(3), text]));
}

/** A number of minutes in words, with the language's plural: "1 minute", "10 Minuten", "5 minutos". */
export function formatMinutes(locale: Locale, minutes: number): string {
  return new Intl.NumberFormat(locale, { style: 'unit', unit: 'minute', unitDisplay: 'long' }).format(minutes);
}

/**
 * An amount of money for people, in the language's format and with the ISO currency code
 * (unambiguous, unlike "$"): "EUR 500.00", "500,00 EUR". Exactly as given, never rounded: the
 * amount stays a decimal string, and a currency whose usual digits are fewer than the amount's
 * (JPY 500.50) shows the amount's.
 */
export function formatMoney(locale: Locale, amount: string, currency: string): string {
  const usual = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().minimumFractionDigits ?? 2;
  const digits = Math.max(usual, amount.split('.')[1]?.length ?? 0);
  const format = new Intl.NumberFormat(locale, { style: 'currency', currency, currencyDisplay: 'code', minimumFractionDigits: digits, maximumFractionDigits: digits });
  // A string keeps every digit (Intl.NumberFormat v3); a number would round past 15 digits.
  return format.format(amount as unknown as number);
}

/** Dates and times for people, in the language's own format, in UTC (the page script switches to the browser's zone). */
export function formatDateTime(locale: Locale, at: number | Date, timeZone = 'UTC'): string {
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short', timeZone }).format(at);
}

/** Catalogue keys whose English text is this exact sentence: how the edge finds a domain error's words. */
const ERROR_KEYS_BY_ENGLISH = new Map<string, MessageKey>(
  (Object.entries(en) as [MessageKey, string][]).filter(([key]) => key.startsWith('error.')).map(([key, text]) => [text, key]),
);

/**
 * An error's sentence for people, in their language. Domain errors carry English sentences and
 * a stable code: the sentence is looked up in the English catalogue, else the code's own
 * sentence is used. English keeps any sentence the catalogue lacks (it may be more specific,
 * e.g. oidc-provider's descriptions); other languages never show English.
 */
export function errorMessage(locale: Locale, code: string, english: string | undefined, params: MessageParams = {}): string {
  const exact = english === undefined ? undefined : ERROR_KEYS_BY_ENGLISH.get(english);
  if (exact) return translate(locale, exact, params);
  if (locale === 'en' && english) return english;
  const byCode = `error.${code}`;
  if (Object.hasOwn(en, byCode)) return translate(locale, byCode as MessageKey, params);
  return translate(locale, 'error.generic');
}
