import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, randomUUID, type JsonWebKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import * as oidc from 'openid-client';
import { ConfigError, loadConfig } from '../../src/config/env.ts';
import { startLatchkey, type TestServer } from '../helpers/app.ts';
import { signedInUser } from '../helpers/flows.ts';
import { latchkey } from '../helpers/process.ts';
import { registerRelyingParty } from '../helpers/rp.ts';

const privateJwk = (alg: 'ES256' | 'RS256', modulusLength = 2048): JsonWebKey => {
  const { privateKey } = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength });
  return { ...privateKey.export({ format: 'jwk' }), kid: `${alg.toLowerCase()}-${randomUUID()}`, alg };
};

/**
 * Keys an operator manages outside the database: signing keys from LATCHKEY_SIGNING_KEYS_FILE
 * (re-read by every node, rotated by editing the file) and cookie secrets from
 * LATCHKEY_COOKIE_SECRETS. The database's keys are then neither used nor rotatable by the CLI.
 */
describe('keys from a file and from the environment', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-keys-'));
  const file = join(dir, 'jwks.json');
  const write = (...keys: JsonWebKey[]) => writeFileSync(file, JSON.stringify({ keys }));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a start with an unusable file or weak cookie secrets, naming the variable', () => {
    const refusal = (env: Record<string, string>) => {
      try {
        loadConfig({ DATABASE_URL: `sqlite:${join(dir, 'x.sqlite3')}`, ...env });
      } catch (error) {
        assert.ok(error instanceof ConfigError);
        return error.message;
      }
      assert.fail('the configuration was accepted');
    };
    const bad = join(dir, 'bad.json');
    const cases: [unknown, RegExp][] = [
      ['{"keys": [{"d": "SECRET-PART", ', /cannot read .* \(not valid JSON\)/],
      [{ keys: [] }, /must be a JWKS/],
      [{ keys: [{ ...privateJwk('ES256'), d: undefined }] }, /must be a private key/],
      [{ keys: [privateJwk('RS256')] }, /at least one ES256/],
      [{ keys: [{ ...privateJwk('ES256'), alg: 'HS256' }] }, /ES256 or RS256/],
      [{ keys: [privateJwk('ES256'), privateJwk('RS256', 1024)] }, /at least 2048 bits/],
      [{ keys: [{ ...privateJwk('RS256'), alg: 'ES256' }] }, /EC P-256/],
    ];
    for (const [content, message] of cases) {
      writeFileSync(bad, typeof content === 'string' ? content : JSON.stringify(content));
      const text = refusal({ LATCHKEY_SIGNING_KEYS_FILE: bad });
      assert.match(text, new RegExp(`LATCHKEY_SIGNING_KEYS_FILE: .*${message.source}`));
      assert.doesNotMatch(text, /SECRET-PART/, 'no key material in the message');
    }
    const duplicate = privateJwk('ES256');
    writeFileSync(bad, JSON.stringify({ keys: [duplicate, duplicate] }));
    assert.match(refusal({ LATCHKEY_SIGNING_KEYS_FILE: bad }), /unique "kid"/);
    assert.match(refusal({ LATCHKEY_SIGNING_KEYS_FILE: join(dir, 'missing.json') }), /cannot read .*ENOENT/);
    assert.match(refusal({ LATCHKEY_COOKIE_SECRETS: 'short' }), /LATCHKEY_COOKIE_SECRETS: .*at least 32/);
  });

  describe('a running provider', () => {
    const es1 = privateJwk('ES256');
    const es2 = privateJwk('ES256');
    const rs1 = privateJwk('RS256');
    const cookieSecret = randomBytes(32).toString('base64url');
    let server: TestServer;
    let rp: oidc.Configuration;
    const published = async () => ((await (await fetch(server.url('/jwks'))).json()) as JSONWebKeySet & { keys: { kid: string; d?: string }[] }).keys;
    const idTokenOfNewSignIn = async (email: string) => String((await signedInUser(server, rp, email)).tokens.id_token);

    before(async () => {
      write(es1, rs1);
      server = await startLatchkey({ env: { LATCHKEY_SIGNING_KEYS_FILE: file, LATCHKEY_COOKIE_SECRETS: `${cookieSecret},${randomBytes(32).toString('hex')}` } });
      rp = await registerRelyingParty(server);
    });
    after(() => server?.close());

    it('signs with the first key of the file and publishes only public keys', async () => {
      const keys = await published();
      assert.deepEqual(keys.map((k) => k.kid).sort(), [es1.kid, rs1.kid].sort());
      assert.ok(keys.every((k) => k.d === undefined), 'no private parts in the JWKS');
      assert.equal(decodeProtectedHeader(await idTokenOfNewSignIn('file-1@example.com')).kid, es1.kid);
      // Cookies are signed with the first secret of the environment (Koa's app.keys).
      assert.equal((server.provider as unknown as { keys: string[] }).keys[0], cookieSecret);
    });

    it('follows a rotation done in the file: publish, promote, retire, without a restart', async () => {
      const before = await idTokenOfNewSignIn('file-2@example.com');
      write(es1, es2, rs1); // publish the next key
      assert.equal(await server.reloadKeys(), true);
      assert.ok((await published()).some((k) => k.kid === es2.kid));
      assert.equal(decodeProtectedHeader(await idTokenOfNewSignIn('file-3@example.com')).kid, es1.kid, 'a published key does not sign yet');

      write(es2, es1, rs1); // promote it
      assert.equal(await server.reloadKeys(), true);
      assert.equal(decodeProtectedHeader(await idTokenOfNewSignIn('file-4@example.com')).kid, es2.kid);
      // What the old key signed still verifies against the published keys.
      await jwtVerify(before, createLocalJWKSet({ keys: await published() }), { issuer: server.issuer });

      write(es2, rs1); // retire the old one
      assert.equal(await server.reloadKeys(), true);
      assert.ok(!(await published()).some((k) => k.kid === es1.kid));
      assert.equal(await server.reloadKeys(), false, 'nothing changed since');
    });

    it('keeps the last good keys when the file turns bad', async () => {
      const good = await published();
      writeFileSync(file, '{"keys": [');
      await assert.rejects(server.reloadKeys(), /LATCHKEY_SIGNING_KEYS_FILE/);
      assert.deepEqual(await published(), good);
      write(es2, rs1);
    });

    it('leaves no key command to the CLI for keys managed outside the database', async () => {
      const env = { DATABASE_URL: `sqlite:${server.config.database.client === 'sqlite' ? server.config.database.filename : ''}`, LATCHKEY_SIGNING_KEYS_FILE: file, LATCHKEY_COOKIE_SECRETS: cookieSecret };
      const rotate = await latchkey(env, 'keys', 'rotate');
      assert.equal(rotate.code, 1);
      assert.match(rotate.stderr, /LATCHKEY_SIGNING_KEYS_FILE/);
      const cookie = await latchkey(env, 'keys', 'promote', '--cookie');
      assert.equal(cookie.code, 1);
      assert.match(cookie.stderr, /LATCHKEY_COOKIE_SECRETS/);
    });
  });
});
