import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { de } from '../../src/i18n/de.ts';
import { en, type Messages } from '../../src/i18n/en.ts';
import { es } from '../../src/i18n/es.ts';
import { ConfigError, loadConfig } from '../../src/config/env.ts';
import { errorMessage, formatMinutes, formatMoney, placeholdersOf, translate } from '../../src/i18n/index.ts';
import { negotiateLocale, parseAcceptLanguage } from '../../src/i18n/negotiate.ts';

const translations: Record<string, Messages> = { de, es };

for (const [language, catalogue] of Object.entries(translations)) {
  describe(`the ${language} catalogue`, () => {
    it('has every English key, none empty, and no key English lacks', () => {
      for (const key of Object.keys(en)) {
        const text = (catalogue as Record<string, string | undefined>)[key];
        assert.ok(typeof text === 'string' && text.trim() !== '', `${language} lacks ${key}`);
      }
      assert.deepEqual(Object.keys(catalogue).filter((key) => !Object.hasOwn(en, key)), []);
    });

    it('uses exactly the placeholders English uses', () => {
      for (const [key, english] of Object.entries(en)) {
        assert.deepEqual(placeholdersOf(catalogue[key as keyof Messages]), placeholdersOf(english), `${language} ${key}`);
      }
    });

    it('is a translation, not a copy of the English sentences', () => {
      // A few keys may legitimately read the same (e.g. "Code", "{time} UTC"); most may not.
      const same = Object.keys(en).filter((key) => catalogue[key as keyof Messages] === en[key as keyof Messages]);
      assert.ok(same.length < 10, `${language} copies English for ${same.join(', ')}`);
    });
  });
}

describe('language negotiation', () => {
  it('parses Accept-Language by q-value, keeping the order of equal weights and dropping q=0', () => {
    assert.deepEqual(parseAcceptLanguage('fr;q=0.5, es-MX, es;q=0.9, de;q=0'), ['es-mx', 'es', 'fr']);
    assert.deepEqual(parseAcceptLanguage('da, en-gb;q=0.8, en;q=0.7'), ['da', 'en-gb', 'en']);
    assert.deepEqual(parseAcceptLanguage('de;q=2, es;q=abc, en'), ['en']);
    assert.deepEqual(parseAcceptLanguage(undefined), []);
  });

  it('prefers ui_locales, then Accept-Language (falling back to the base language), then the default', () => {
    assert.equal(negotiateLocale({ uiLocales: 'fr-CA de', acceptLanguage: 'es', fallback: 'en' }), 'de');
    assert.equal(negotiateLocale({ uiLocales: 'fr', acceptLanguage: 'de-AT,en;q=0.5', fallback: 'en' }), 'de');
    assert.equal(negotiateLocale({ acceptLanguage: 'es-MX,es;q=0.9', fallback: 'en' }), 'es');
    assert.equal(negotiateLocale({ acceptLanguage: 'fr, it;q=0.8', fallback: 'de' }), 'de');
    assert.equal(negotiateLocale({ acceptLanguage: 'fr, es;q=0.1', fallback: 'de' }), 'es');
    assert.equal(negotiateLocale({ fallback: 'es' }), 'es');
  });
});

describe('LATCHKEY_DEFAULT_LOCALE', () => {
  it('is en unless set to a language Latchkey speaks', () => {
    assert.equal(loadConfig({}).defaultLocale, 'en');
    assert.equal(loadConfig({ LATCHKEY_DEFAULT_LOCALE: 'de' }).defaultLocale, 'de');
    for (const bad of ['fr', 'de-AT', 'EN']) {
      assert.throws(() => loadConfig({ LATCHKEY_DEFAULT_LOCALE: bad }), (error: unknown) => error instanceof ConfigError && error.variable === 'LATCHKEY_DEFAULT_LOCALE', bad);
    }
  });
});

describe('messages', () => {
  it('fill in their placeholders', () => {
    assert.equal(translate('de', 'login.title', { client: 'Beispiel' }), 'Bei Beispiel anmelden');
  });

  it('say durations with the language’s plural', () => {
    assert.deepEqual([1, 10].map((n) => formatMinutes('en', n)), ['1 minute', '10 minutes']);
    assert.deepEqual([1, 10].map((n) => formatMinutes('de', n)), ['1 Minute', '10 Minuten']);
    assert.deepEqual([1, 10].map((n) => formatMinutes('es', n)), ['1 minuto', '10 minutos']);
    assert.match(translate('de', 'mail.signupCode.body', { code: '123456', duration: formatMinutes('de', 1), product: 'X' }), /Er ist 1 Minute gültig/);
  });

  it('write amounts of money in the language, with the currency code, never rounded', () => {
    const nbsp = '\u00a0';
    assert.equal(formatMoney('en', '500.00', 'EUR'), `EUR${nbsp}500.00`);
    assert.equal(formatMoney('de', '1234.5', 'EUR'), `1.234,50${nbsp}EUR`);
    assert.equal(formatMoney('es', '500', 'USD'), `500,00${nbsp}USD`);
    // Past 15 digits a number would round; fewer usual digits (JPY has none) never cut the amount.
    assert.equal(formatMoney('en', '123456789012345.67', 'EUR'), `EUR${nbsp}123,456,789,012,345.67`);
    assert.equal(formatMoney('en', '500.50', 'JPY'), `JPY${nbsp}500.50`);
    assert.equal(formatMoney('en', '7', 'KWD'), `KWD${nbsp}7.000`);
  });

  it('give every domain error its sentence in each language, English unchanged', () => {
    assert.equal(errorMessage('en', 'email_code_invalid', 'That code is not right. Check the email and try again.'), 'That code is not right. Check the email and try again.');
    assert.equal(errorMessage('de', 'email_code_invalid', 'That code is not right. Check the email and try again.'), de['error.email_code_invalid']);
    assert.equal(errorMessage('es', 'invalid_passkey_name', 'A passkey name can be at most 64 characters long.', { max: 64 }), 'Escribe un nombre de 64 caracteres como máximo.');
    // An error the catalogue does not know: English keeps the sentence, other languages never show English.
    assert.equal(errorMessage('en', 'invalid_request', 'redirect_uri did not match'), 'redirect_uri did not match');
    assert.equal(errorMessage('de', 'invalid_request', 'redirect_uri did not match'), de['error.invalid_request']);
    assert.equal(errorMessage('es', 'something_else', 'details'), es['error.generic']);
  });

  it('know every sentence the flows people use throw, so none falls back to a vaguer one', () => {
    // Management API errors are for developers and stay English.
    const apiOnly = /^(invalid_token|insufficient_scope|invalid_cursor|user_not_found|user_exists|external_id_taken|webhook_not_found|invalid_webhook_url|user_disabled|enrollment_not_found|enrollment_not_active|invalid_request)$/;
    const english = new Set<string>(Object.values(en));
    const missing: string[] = [];
    const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
    for (const file of walk('src').filter((f) => f.endsWith('.ts') && !f.includes('/http/api/') && !f.includes('/management/'))) {
      for (const match of readFileSync(file, 'utf8').matchAll(/new DomainError\('([a-z_]+)', '([^']+)'/g)) {
        if (!apiOnly.test(match[1]!) && !english.has(match[2]!)) missing.push(`${file}: ${match[2]}`);
      }
    }
    assert.deepEqual(missing, []);
  });
});
