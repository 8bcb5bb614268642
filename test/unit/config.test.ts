/**
 * loadConfig: sensible defaults for a local start, and every unusable value refused with a
 * ConfigError that names the variable to fix.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/env.ts';

const CWD = resolve('/srv/latchkey');
// What Android sends: the base64url SHA-256 of the app's signing certificate.
const APK_HASH = `android:apk-key-hash:${createHash('sha256').update('signing certificate').digest('base64url')}`;

/** Asserts that loading this environment fails on `variable`. */
function assertRejected(env: Record<string, string>, variable: string): void {
  assert.throws(
    () => loadConfig(env, CWD),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
      assert.equal(error.variable, variable);
      assert.equal(error.name, 'ConfigError');
      assert.ok(error.message.startsWith(`${variable}: `), error.message);
      return true;
    },
  );
}

describe('loadConfig defaults', () => {
  const config = loadConfig({}, CWD);

  it('listens on port 3000 on every interface', () => {
    assert.equal(config.port, 3000);
    assert.equal(config.host, '0.0.0.0');
  });

  it('uses http://localhost:3000 as issuer, localhost as RP ID and the issuer origin', () => {
    assert.equal(config.issuer, 'http://localhost:3000');
    assert.equal(config.rpId, 'localhost');
    assert.deepEqual(config.origins, ['http://localhost:3000']);
  });

  it('stores data in a SQLite file under the working directory', () => {
    assert.deepEqual(config.database, { client: 'sqlite', filename: resolve(CWD, 'data/latchkey.sqlite3') });
  });

  it('has no SMTP server, no initial access token and the documented limits', () => {
    assert.equal(config.smtpUrl, undefined);
    assert.equal(config.initialAccessToken, undefined);
    assert.equal(config.clientsFile, undefined);
    assert.equal(config.trustProxy, false);
    assert.equal(config.logLevel, 'info');
    assert.equal(config.emailCodeTtl, 600);
    assert.equal(config.emailCodeMaxAttempts, 5);
    assert.equal(config.challengeTtl, 300);
    assert.deepEqual(config.acr, { otp: 'urn:latchkey:acr:otp', pop: 'urn:latchkey:acr:pop', phr: 'phr', phrh: 'phrh' });
  });

  it('is frozen', () => {
    assert.ok(Object.isFrozen(config));
  });

  it('treats blank variables as unset', () => {
    const blank = loadConfig({ PORT: '  ', LATCHKEY_ISSUER: '', LOG_LEVEL: ' ' }, CWD);
    assert.equal(blank.port, 3000);
    assert.equal(blank.issuer, 'http://localhost:3000');
    assert.equal(blank.logLevel, 'info');
  });
});

describe('loadConfig accepts', () => {
  it('a PORT, which moves the default issuer', () => {
    const config = loadConfig({ PORT: '8080' }, CWD);
    assert.equal(config.port, 8080);
    assert.equal(config.issuer, 'http://localhost:8080');
    assert.deepEqual(config.origins, ['http://localhost:8080']);
  });

  it('an https issuer, without its trailing slash', () => {
    const config = loadConfig({ LATCHKEY_ISSUER: 'https://login.example.com/' }, CWD);
    assert.equal(config.issuer, 'https://login.example.com');
    assert.equal(config.rpId, 'login.example.com');
    assert.deepEqual(config.origins, ['https://login.example.com']);
  });

  it('a parent domain as RP ID with subdomain and Android origins', () => {
    const config = loadConfig(
      {
        LATCHKEY_ISSUER: 'https://login.example.com',
        LATCHKEY_RP_ID: 'example.com',
        LATCHKEY_ORIGINS: `https://login.example.com, https://app.example.com,${APK_HASH}`,
      },
      CWD,
    );
    assert.equal(config.rpId, 'example.com');
    assert.deepEqual(config.origins, ['https://login.example.com', 'https://app.example.com', APK_HASH]);
  });

  it('an absolute sqlite path and a postgres URL', () => {
    assert.deepEqual(loadConfig({ DATABASE_URL: 'sqlite:///var/lib/latchkey/db.sqlite3' }, CWD).database, {
      client: 'sqlite',
      filename: '/var/lib/latchkey/db.sqlite3',
    });
    assert.deepEqual(loadConfig({ DATABASE_URL: 'sqlite:db/x.sqlite3' }, CWD).database, {
      client: 'sqlite',
      filename: resolve(CWD, 'db/x.sqlite3'),
    });
    assert.deepEqual(loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/latchkey' }, CWD).database, {
      client: 'postgres',
      connectionString: 'postgres://u:p@db:5432/latchkey',
    });
  });

  it('a PostgreSQL schema, taken out of the URL the driver sees', () => {
    const { database } = loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/latchkey?schema=idp&sslmode=require' }, CWD);
    assert.ok(database.client === 'postgres');
    assert.equal(database.schema, 'idp');
    const url = new URL(database.connectionString);
    assert.equal(url.searchParams.get('schema'), null);
    assert.equal(url.searchParams.get('sslmode'), 'require');
  });

  it('an smtp URL, a log level, a long initial access token and custom acr names', () => {
    const config = loadConfig(
      {
        SMTP_URL: 'smtps://user:pass@mail.example.com:465',
        LOG_LEVEL: 'debug',
        LATCHKEY_INITIAL_ACCESS_TOKEN: '0123456789abcdef',
        LATCHKEY_ACR_PHR: 'urn:x:phr',
        LATCHKEY_TRUST_PROXY: 'yes',
        LATCHKEY_CLIENTS_FILE: 'clients.json',
      },
      CWD,
    );
    assert.equal(config.smtpUrl, 'smtps://user:pass@mail.example.com:465');
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.initialAccessToken, '0123456789abcdef');
    assert.equal(config.acr.phr, 'urn:x:phr');
    assert.equal(config.trustProxy, true);
    assert.equal(config.clientsFile, resolve(CWD, 'clients.json'));
  });
});

describe('loadConfig refuses', () => {
  const cases: [label: string, env: Record<string, string>, variable: string][] = [
    ['a PORT that is not a number', { PORT: 'abc' }, 'PORT'],
    ['a PORT above 65535', { PORT: '70000' }, 'PORT'],
    ['a negative PORT', { PORT: '-1' }, 'PORT'],
    ['an issuer that is not a URL', { LATCHKEY_ISSUER: 'not a url' }, 'LATCHKEY_ISSUER'],
    ['an http issuer other than localhost', { LATCHKEY_ISSUER: 'http://example.com' }, 'LATCHKEY_ISSUER'],
    ['an issuer with a query', { LATCHKEY_ISSUER: 'https://login.example.com/?tenant=1' }, 'LATCHKEY_ISSUER'],
    ['an issuer with a fragment', { LATCHKEY_ISSUER: 'https://login.example.com/#x' }, 'LATCHKEY_ISSUER'],
    ['an issuer with credentials', { LATCHKEY_ISSUER: 'https://user:pw@login.example.com' }, 'LATCHKEY_ISSUER'],
    ['an issuer that is not http(s)', { LATCHKEY_ISSUER: 'ftp://login.example.com' }, 'LATCHKEY_ISSUER'],
    ['an RP ID unrelated to the issuer host', { LATCHKEY_ISSUER: 'https://login.example.com', LATCHKEY_RP_ID: 'example.org' }, 'LATCHKEY_RP_ID'],
    ['an RP ID that is a string suffix but not a parent domain', { LATCHKEY_ISSUER: 'https://login.example.com', LATCHKEY_RP_ID: 'ample.com' }, 'LATCHKEY_RP_ID'],
    ['an RP ID that is a subdomain of the issuer host', { LATCHKEY_ISSUER: 'https://example.com', LATCHKEY_RP_ID: 'login.example.com' }, 'LATCHKEY_RP_ID'],
    ['an RP ID that is not a domain name', { LATCHKEY_ISSUER: 'https://login.example.com', LATCHKEY_RP_ID: '.example.com' }, 'LATCHKEY_RP_ID'],
    ['an origin with a path', { LATCHKEY_ISSUER: 'https://login.example.com', LATCHKEY_ORIGINS: 'https://login.example.com/app' }, 'LATCHKEY_ORIGINS'],
    ['an origin on another domain', { LATCHKEY_ISSUER: 'https://login.example.com', LATCHKEY_RP_ID: 'example.com', LATCHKEY_ORIGINS: 'https://login.example.com,https://evil.com' }, 'LATCHKEY_ORIGINS'],
    ['an origin outside the RP ID', { LATCHKEY_ISSUER: 'https://login.example.com', LATCHKEY_ORIGINS: 'https://app.example.com' }, 'LATCHKEY_ORIGINS'],
    ['a plain http origin', { LATCHKEY_ISSUER: 'https://login.example.com', LATCHKEY_ORIGINS: 'http://login.example.com' }, 'LATCHKEY_ORIGINS'],
    ['an origin that is not a URL', { LATCHKEY_ISSUER: 'https://login.example.com', LATCHKEY_ORIGINS: 'login.example.com' }, 'LATCHKEY_ORIGINS'],
    ['a malformed Android origin', { LATCHKEY_ISSUER: 'https://login.example.com', LATCHKEY_ORIGINS: 'android:apk-key-hash:short!' }, 'LATCHKEY_ORIGINS'],
    ['an empty origin list', { LATCHKEY_ORIGINS: ' , ,' }, 'LATCHKEY_ORIGINS'],
    ['a MySQL database', { DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    ['a PostgreSQL schema that is not an identifier', { DATABASE_URL: 'postgres://db/latchkey?schema=idp;drop' }, 'DATABASE_URL'],
    ['a REDIS_URL that is not redis', { REDIS_URL: 'http://cache:6379' }, 'REDIS_URL'],
    ['an unknown recovery mode', { LATCHKEY_RECOVERY: 'sms' }, 'LATCHKEY_RECOVERY'],
    ['a short metrics token', { LATCHKEY_METRICS_TOKEN: 'short' }, 'LATCHKEY_METRICS_TOKEN'],
    ['zero proxy hops', { LATCHKEY_PROXY_HOPS: '0' }, 'LATCHKEY_PROXY_HOPS'],
    ['a sqlite URL without a path', { DATABASE_URL: 'sqlite:' }, 'DATABASE_URL'],
    ['an SMTP_URL that is not smtp', { SMTP_URL: 'http://x' }, 'SMTP_URL'],
    ['an SMTP_URL that is not a URL', { SMTP_URL: 'mail.example.com' }, 'SMTP_URL'],
    ['an unknown LOG_LEVEL', { LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    ['a short initial access token', { LATCHKEY_INITIAL_ACCESS_TOKEN: 'short-token' }, 'LATCHKEY_INITIAL_ACCESS_TOKEN'],
    ['a boolean that is not one', { LATCHKEY_TRUST_PROXY: 'maybe' }, 'LATCHKEY_TRUST_PROXY'],
    ['an email code TTL out of range', { LATCHKEY_EMAIL_CODE_TTL: '5' }, 'LATCHKEY_EMAIL_CODE_TTL'],
    ['zero email code attempts', { LATCHKEY_EMAIL_CODE_ATTEMPTS: '0' }, 'LATCHKEY_EMAIL_CODE_ATTEMPTS'],
    ['two acr levels with one name', { LATCHKEY_ACR_PHR: 'same', LATCHKEY_ACR_PHRH: 'same' }, 'LATCHKEY_ACR_OTP'],
    ['a pop level named like the otp level', { LATCHKEY_ACR_POP: 'urn:latchkey:acr:otp' }, 'LATCHKEY_ACR_OTP'],
  ];
  for (const [label, env, variable] of cases) {
    it(`${label} (${variable})`, () => assertRejected(env, variable));
  }
});

describe('loadConfig refuses values that would silently misbehave', () => {
  it('refuses sqlite://relative, which would mean an absolute path', () => {
    assertRejected({ DATABASE_URL: 'sqlite://data/latchkey.sqlite3' }, 'DATABASE_URL');
    assert.deepEqual(loadConfig({ DATABASE_URL: 'sqlite:///var/lib/latchkey/db.sqlite3' }, '/srv').database, {
      client: 'sqlite',
      filename: '/var/lib/latchkey/db.sqlite3',
    });
  });

  it('refuses an IP address as the RP ID, naming the variable it came from', () => {
    assertRejected({ LATCHKEY_ISSUER: 'https://10.0.0.1' }, 'LATCHKEY_ISSUER');
    assertRejected({ LATCHKEY_ISSUER: 'https://[::1]' }, 'LATCHKEY_ISSUER');
    assertRejected({ LATCHKEY_ISSUER: 'https://login.example.com', LATCHKEY_RP_ID: '192.168.1.1' }, 'LATCHKEY_RP_ID');
  });
});
