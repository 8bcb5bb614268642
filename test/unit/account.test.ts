/**
 * The account page's pure parts: authenticator names from AAGUID metadata (untrusted icons
 * dropped), passkey names, what counts as a fresh passkey ceremony, and the change mails.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readAuthenticatorMetadata } from '../../src/config/authenticator-metadata.ts';
import { ConfigError, loadConfig } from '../../src/config/env.ts';
import { AuthenticatorCatalog, describeModel } from '../../src/domain/account/authenticators.ts';
import { hasFreshPasskeyCeremony } from '../../src/domain/account/freshness.ts';
import { normalizePasskeyName, PASSKEY_NAME_MAX } from '../../src/domain/account/passkey-names.ts';
import { DomainError } from '../../src/domain/errors.ts';
import { createAccountMessages } from '../../src/mail/messages.ts';

const AAGUID = 'ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4';
const PNG = 'data:image/png;base64,iVBORw0KGgo=';
const SVG = 'data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=';

describe('AuthenticatorCatalog', () => {
  it('names known AAGUIDs (any case) and keeps only data: image icons', () => {
    const catalog = AuthenticatorCatalog.parse({
      [AAGUID.toUpperCase()]: { name: '  Google Password Manager ', icon_light: PNG, icon_dark: SVG },
      'adce0002-35bc-c60a-648b-0b25f1f05503': { name: 'Chrome on Mac', icon_light: 'https://evil.example/x.png', icon_dark: 'javascript:alert(1)' },
      'fbfc3007-154e-4ecc-8c0b-6e020557d7bd': { name: 'iCloud Keychain', icon_light: 'data:text/html;base64,PHNjcmlwdD4=', icon_dark: `${SVG}" onerror="x` },
    });
    assert.equal(catalog.size, 3);
    assert.deepEqual(catalog.lookup(AAGUID), { name: 'Google Password Manager', iconLight: PNG, iconDark: SVG });
    assert.deepEqual(catalog.lookup('ADCE0002-35BC-C60A-648B-0B25F1F05503'), { name: 'Chrome on Mac' });
    assert.deepEqual(catalog.lookup('fbfc3007-154e-4ecc-8c0b-6e020557d7bd'), { name: 'iCloud Keychain' });
    assert.equal(catalog.lookup('00000000-0000-0000-0000-000000000000'), undefined);
  });

  it('refuses files that are not an AAGUID map', () => {
    for (const json of [[], 'x', null, { 'not-an-aaguid': { name: 'x' } }, { [AAGUID]: { icon_light: PNG } }, { [AAGUID]: { name: '' } }]) {
      assert.throws(() => AuthenticatorCatalog.parse(json), Error, JSON.stringify(json));
    }
  });

  it('falls back to what the browser reported, or "Passkey"', () => {
    const empty = AuthenticatorCatalog.empty;
    assert.equal(describeModel({ aaguid: AAGUID, transports: ['internal', 'hybrid'] }, empty).name, 'Passkey');
    assert.equal(describeModel({ aaguid: AAGUID, transports: ['usb', 'nfc'] }, empty).name, 'Security key');
    assert.equal(describeModel({ aaguid: AAGUID, transports: [] }, empty).name, 'Passkey');
    const catalog = AuthenticatorCatalog.parse({ [AAGUID]: { name: 'Google Password Manager' } });
    assert.equal(describeModel({ aaguid: AAGUID, transports: ['usb'] }, catalog).name, 'Google Password Manager');
  });

  it('is read from the file LATCHKEY_AUTHENTICATOR_METADATA names; a bad file names the variable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-aaguids-'));
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ [AAGUID]: { name: 'GPM' } }));
    assert.equal(readAuthenticatorMetadata(good).lookup(AAGUID)?.name, 'GPM');
    assert.equal(readAuthenticatorMetadata(undefined).size, 0);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ not json');
    for (const path of [bad, join(dir, 'missing.json')]) {
      assert.throws(() => readAuthenticatorMetadata(path), (e: unknown) => e instanceof ConfigError && e.variable === 'LATCHKEY_AUTHENTICATOR_METADATA');
    }
    assert.equal(loadConfig({ LATCHKEY_AUTHENTICATOR_METADATA: 'aaguids.json' }, '/srv/latchkey').authenticatorMetadata, '/srv/latchkey/aaguids.json');
  });
});

describe('AuthenticatorCatalog.withFallback (FIDO MDS names)', () => {
  it('adds models the file does not name, keeps the file’s names, and still drops unsafe icons', () => {
    const fromFile = AuthenticatorCatalog.parse({ [AAGUID]: { name: 'From the file' } });
    const merged = fromFile.withFallback([
      { aaguid: AAGUID, name: 'From MDS' },
      { aaguid: 'CB69481E-8FF7-4039-93EC-0A2729A154A8', name: ' YubiKey 5 Series ', iconLight: PNG, iconDark: 'https://evil.example/x.png' },
      { aaguid: 'not-an-aaguid', name: 'Ignored' },
    ]);
    assert.equal(merged.size, 2);
    assert.equal(merged.lookup(AAGUID)!.name, 'From the file');
    assert.deepEqual(merged.lookup('cb69481e-8ff7-4039-93ec-0a2729a154a8'), { name: 'YubiKey 5 Series', iconLight: PNG });
    assert.equal(fromFile.size, 1, 'the original catalog is unchanged');
  });
});

describe('account configuration', () => {
  it('re-authentication lasts 300 seconds unless configured (30 to 3600)', () => {
    assert.equal(loadConfig({}, '/srv').accountReauthSeconds, 300);
    assert.equal(loadConfig({ LATCHKEY_ACCOUNT_REAUTH_SECONDS: '120' }, '/srv').accountReauthSeconds, 120);
    for (const bad of ['10', '3601', 'five']) {
      assert.throws(() => loadConfig({ LATCHKEY_ACCOUNT_REAUTH_SECONDS: bad }, '/srv'), (e: unknown) => e instanceof ConfigError && e.variable === 'LATCHKEY_ACCOUNT_REAUTH_SECONDS');
    }
  });
});

describe('normalizePasskeyName', () => {
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      return (error as DomainError).code;
    }
    return undefined;
  };

  it('trims, collapses whitespace and drops control and bidi characters', () => {
    assert.equal(normalizePasskeyName('  My\tphone\n\n2 '), 'My phone 2');
    assert.equal(normalizePasskeyName('evil\u202Egnp.exe'), 'evil gnp.exe');
    assert.equal(normalizePasskeyName('<b>keep</b> & escape later'), '<b>keep</b> & escape later');
  });

  it(`allows 1 to ${PASSKEY_NAME_MAX} characters, counting code points`, () => {
    assert.equal(normalizePasskeyName('🔑'.repeat(PASSKEY_NAME_MAX)), '🔑'.repeat(PASSKEY_NAME_MAX));
    for (const bad of ['', '   ', '\u0000', 'x'.repeat(PASSKEY_NAME_MAX + 1), 42, undefined, ['a']]) {
      assert.equal(code(() => normalizePasskeyName(bad)), 'invalid_passkey_name', JSON.stringify(bad));
    }
  });
});

describe('hasFreshPasskeyCeremony', () => {
  const names = { otp: 'urn:latchkey:acr:otp', pop: 'urn:latchkey:acr:pop', phr: 'phr', phrh: 'phrh' };
  const now = 1_800_000_000;

  it('needs a passkey level (phr or phrh) within the window', () => {
    assert.equal(hasFreshPasskeyCeremony({ acr: 'phr', authTime: now - 300 }, now, names, 300), true);
    assert.equal(hasFreshPasskeyCeremony({ acr: 'phrh', authTime: now }, now, names, 300), true);
    assert.equal(hasFreshPasskeyCeremony({ acr: 'phrh', authTime: now - 301 }, now, names, 300), false);
  });

  it('never counts the email-code level, a passkey without user verification, or a missing auth_time', () => {
    assert.equal(hasFreshPasskeyCeremony({ acr: names.otp, authTime: now }, now, names, 300), false);
    assert.equal(hasFreshPasskeyCeremony({ acr: names.pop, authTime: now }, now, names, 300), false);
    assert.equal(hasFreshPasskeyCeremony({ acr: 'phr' }, now, names, 300), false);
    assert.equal(hasFreshPasskeyCeremony({ authTime: now }, now, names, 300), false);
  });
});

describe('passkey change mails', () => {
  const messages = createAccountMessages({ productName: 'Latchkey', issuer: 'https://login.example.com', defaultLocale: 'en' });
  const at = Date.UTC(2026, 10, 22, 13, 5);

  it('say which passkey, when, and where to act if it was not the person', () => {
    const added = messages.passkeyAdded('ada@example.com', { name: 'Work laptop', model: 'iCloud Keychain', at });
    assert.equal(added.to, 'ada@example.com');
    assert.match(added.subject, /passkey was added/);
    assert.match(added.text, /"Work laptop" \(iCloud Keychain\)/);
    assert.match(added.text, /Nov 22, 2026, 1:05\sPM UTC/);
    assert.match(added.text, /https:\/\/login\.example\.com\/account/);
    const removed = messages.passkeyRemoved('ada@example.com', { name: 'Passkey', model: 'Passkey', at });
    assert.match(removed.subject, /passkey was removed/);
    assert.match(removed.text, /The passkey "Passkey" was removed/);
  });
});
