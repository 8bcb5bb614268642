import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { SoftwareAuthenticator } from '../helpers/authenticator.ts';
import { startLatchkey, type TestServer } from '../helpers/app.ts';
import { finishAtApplication, openInteraction, signUp, signedInUser } from '../helpers/flows.ts';
import { HttpClient } from '../helpers/http.ts';
import { authorizationRequest, redeem, registerRelyingParty, REDIRECT_URI } from '../helpers/rp.ts';
import { DATABASE_KINDS } from '../helpers/databases.ts';


for (const database of DATABASE_KINDS) {
  describe(`OpenID Connect protocol (${database})`, () => {
    let server: TestServer;
    let rp: oidc.Configuration;

    before(async () => {
      server = await startLatchkey({ database });
      rp = await registerRelyingParty(server);
    });
    after(() => server.close());

    it('publishes discovery with ES256 first, S256 PKCE and the acr values', async () => {
      const meta = (await (await fetch(server.url('/.well-known/openid-configuration'))).json()) as Record<string, unknown>;
      assert.equal(meta.issuer, server.issuer);
      assert.deepEqual(meta.id_token_signing_alg_values_supported, ['ES256', 'RS256']);
      assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
      assert.deepEqual(meta.acr_values_supported, ['urn:latchkey:acr:otp', 'urn:latchkey:acr:pop', 'phr', 'phrh']);
      assert.deepEqual(meta.response_types_supported, ['code']);
      for (const endpoint of ['registration_endpoint', 'revocation_endpoint', 'introspection_endpoint', 'end_session_endpoint', 'userinfo_endpoint']) {
        assert.ok(meta[endpoint], endpoint);
      }
      const jwks = (await (await fetch(server.url('/jwks'))).json()) as { keys: { alg: string; d?: string }[] };
      assert.deepEqual(jwks.keys.map((k) => k.alg), ['ES256', 'RS256']);
      assert.ok(jwks.keys.every((k) => k.d === undefined), 'no private key material in JWKS');
    });

    it('signs ID tokens with RS256 for clients that ask', async () => {
      const rs = await registerRelyingParty(server, { id_token_signed_response_alg: 'RS256' });
      const http = new HttpClient(server.issuer);
      const authenticator = new SoftwareAuthenticator({ origin: server.issuer });
      const request = await authorizationRequest(rs);
      const callback = await finishAtApplication(http, await signUp(http, server, authenticator, await openInteraction(http, request.url.href), 'rsa@example.com'));
      const tokens = await redeem(rs, request, callback);
      assert.equal(JSON.parse(Buffer.from(tokens.id_token!.split('.')[0]!, 'base64url').toString()).alg, 'RS256');
    });

    it('returns the requested claims through the claims parameter', async () => {
      const { tokens } = await signedInUser(server, rp, 'claims@example.com', {
        claims: JSON.stringify({ id_token: { email: { essential: true }, email_verified: null } }),
      });
      const claims = tokens.claims()!;
      assert.equal(claims.email, 'claims@example.com');
      assert.equal(claims.email_verified, true);
    });

    it('signs out through RP-initiated logout, after which a new request asks to sign in again', async () => {
      const { http, tokens } = await signedInUser(server, rp, 'logout@example.com');
      const endSession = oidc.buildEndSessionUrl(rp, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'https://app.example.com/signed-out', state: 'bye' });
      const page = await http.get(endSession.href);
      assert.equal(page.status, 200);
      const html = await page.text();
      assert.match(html, /Sign out/);
      const xsrf = html.match(/name="xsrf" value="([^"]+)"/)?.[1];
      assert.ok(xsrf);
      const confirmed = await http.request('POST', '/session/end/confirm', { form: { xsrf, logout: 'yes' } });
      assert.equal(confirmed.status, 303);
      const back = new URL(confirmed.headers.get('location')!);
      assert.equal(back.origin + back.pathname, 'https://app.example.com/signed-out');
      assert.equal(back.searchParams.get('state'), 'bye');
      // The same browser is no longer signed in: prompt=none must fail with login_required.
      const silent = await authorizationRequest(rp, { prompt: 'none' });
      const { url } = await http.follow(silent.url.href);
      assert.equal(new URL(url).searchParams.get('error'), 'login_required');
    });
  });
}

describe('clients from a file', () => {
  let server: TestServer;

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-clients-'));
    const file = join(dir, 'clients.json');
    writeFileSync(
      file,
      JSON.stringify([{ client_id: 'first-party-app', client_secret_env: 'TEST_APP_SECRET', redirect_uris: [REDIRECT_URI], first_party: true, client_name: 'First Party' }]),
    );
    const { readClientsFile } = await import('../../src/config/clients-file.ts');
    server = await startLatchkey({ clients: readClientsFile(file, { TEST_APP_SECRET: 'a-very-secret-value-for-tests' }) });
  });
  after(() => server.close());

  it('serves a first-party client from the file without a consent page', async () => {
    const rp = await oidc.discovery(new URL(server.issuer), 'first-party-app', 'a-very-secret-value-for-tests', undefined, { execute: [oidc.allowInsecureRequests] });
    const http = new HttpClient(server.issuer);
    const authenticator = new SoftwareAuthenticator({ origin: server.issuer });
    const request = await authorizationRequest(rp, { scope: 'openid email' });
    const page = await openInteraction(http, request.url.href);
    assert.match(page.html, /First Party/);
    const callback = await finishAtApplication(http, await signUp(http, server, authenticator, page, 'fp@example.com'), { consent: false });
    const tokens = await redeem(rp, request, callback);
    assert.equal(tokens.claims()!.acr, 'urn:latchkey:acr:otp');
  });
});
