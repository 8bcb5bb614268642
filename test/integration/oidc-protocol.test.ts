import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { SoftwareAuthenticator } from '../helpers/authenticator.ts';
import { INITIAL_ACCESS_TOKEN, startLatchkey, type TestServer } from '../helpers/app.ts';
import { finishAtApplication, openInteraction, signInWithPasskey, signUp } from '../helpers/flows.ts';
import { HttpClient } from '../helpers/http.ts';
import { authorizationRequest, redeem, registerRelyingParty, REDIRECT_URI } from '../helpers/rp.ts';
import { DATABASE_KINDS } from '../helpers/databases.ts';

/** Signs a new person up and back in with their passkey; returns tokens of the passkey sign-in. */
async function signedInUser(server: TestServer, rp: oidc.Configuration, email: string, params: Record<string, string> = {}) {
  const http = new HttpClient(server.issuer);
  const authenticator = new SoftwareAuthenticator({ origin: server.issuer });
  const signup = await authorizationRequest(rp);
  await finishAtApplication(http, await signUp(http, server, authenticator, await openInteraction(http, signup.url.href), email));
  const browser = new HttpClient(server.issuer);
  const request = await authorizationRequest(rp, { scope: 'openid email offline_access', prompt: 'login consent', ...params });
  const verified = await signInWithPasskey(browser, authenticator, await openInteraction(browser, request.url.href));
  const callback = await finishAtApplication(browser, ((await verified.json()) as { redirectTo: string }).redirectTo);
  return { http: browser, authenticator, request, callback, tokens: await redeem(rp, request, callback) };
}

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

    it('protects dynamic registration with the initial access token and refuses first_party', async () => {
      const body = JSON.stringify({ redirect_uris: [REDIRECT_URI] });
      const headers = { 'content-type': 'application/json' };
      const none = await fetch(server.url('/reg'), { method: 'POST', body, headers });
      assert.equal(none.status, 401);
      const wrong = await fetch(server.url('/reg'), { method: 'POST', body, headers: { ...headers, authorization: 'Bearer wrong-token-wrong-token' } });
      assert.equal(wrong.status, 401);
      const selfPromoted = await fetch(server.url('/reg'), {
        method: 'POST',
        body: JSON.stringify({ redirect_uris: [REDIRECT_URI], first_party: true }),
        headers: { ...headers, authorization: `Bearer ${INITIAL_ACCESS_TOKEN}` },
      });
      assert.equal(selfPromoted.status, 400);
      assert.equal(((await selfPromoted.json()) as { error: string }).error, 'invalid_client_metadata');
    });

    it('requires PKCE with S256 from every client', async () => {
      const http = new HttpClient(server.issuer);
      const base = { client_id: rp.clientMetadata().client_id, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'openid', state: 'xyz' };
      for (const params of [base, { ...base, code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }]) {
        const response = await http.get(`/auth?${new URLSearchParams(params)}`);
        assert.equal(response.status, 303);
        const location = new URL(response.headers.get('location')!);
        assert.equal(location.origin + location.pathname, REDIRECT_URI);
        assert.equal(location.searchParams.get('error'), 'invalid_request');
      }
    });

    it('rejects a wrong PKCE verifier, a reused code, another client and another redirect URI', async () => {
      const { callback, request } = await signedInUser(server, rp, 'pkce@example.com');
      const code = new URL(callback).searchParams.get('code')!;
      const token = (params: Record<string, string>, auth = rp) =>
        fetch(server.url('/token'), {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            authorization: `Basic ${Buffer.from(`${auth.clientMetadata().client_id}:${auth.clientMetadata().client_secret}`).toString('base64')}`,
          },
          body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: request.verifier, ...params }),
        });
      const other = await registerRelyingParty(server);
      for (const [label, response] of [
        ['wrong verifier', await token({ code_verifier: oidc.randomPKCECodeVerifier() })],
        ['other redirect uri', await token({ redirect_uri: 'https://app.example.com/other' })],
        ['other client', await token({}, other)],
      ] as const) {
        assert.equal(response.status, 400, label);
        assert.equal(((await response.json()) as { error: string }).error, 'invalid_grant', label);
      }
    });

    it('a code works once; a second redemption fails and revokes the grant', async () => {
      const { callback, request, tokens } = await signedInUser(server, rp, 'twice@example.com');
      // signedInUser already redeemed this code once.
      await assert.rejects(redeem(rp, request, callback), (error: Error & { error?: string }) => error.error === 'invalid_grant');
      // The tokens issued from it are revoked with the grant.
      assert.equal((await oidc.tokenIntrospection(rp, tokens.access_token)).active, false);
      await assert.rejects(oidc.refreshTokenGrant(rp, tokens.refresh_token!), (e: Error & { error?: string }) => e.error === 'invalid_grant');
    });

    it('rotates refresh tokens; a reused one fails and revokes the whole grant', async () => {
      const { tokens } = await signedInUser(server, rp, 'refresh@example.com');
      assert.ok(tokens.refresh_token);
      const rotated = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
      assert.ok(rotated.refresh_token && rotated.refresh_token !== tokens.refresh_token, 'a new refresh token each time');
      const claims = rotated.claims()!;
      assert.equal(claims.acr, 'phrh', 'the refreshed ID token keeps the original acr');
      await assert.rejects(oidc.refreshTokenGrant(rp, tokens.refresh_token!), (e: Error & { error?: string }) => e.error === 'invalid_grant');
      // Reuse is treated as theft: the rotated token dies with the grant.
      await assert.rejects(oidc.refreshTokenGrant(rp, rotated.refresh_token!), (e: Error & { error?: string }) => e.error === 'invalid_grant');
    });

    it('introspects and revokes tokens; userinfo refuses a revoked or bogus token', async () => {
      const { tokens } = await signedInUser(server, rp, 'revoke@example.com');
      const active = await oidc.tokenIntrospection(rp, tokens.access_token);
      assert.equal(active.active, true);
      assert.equal(active.sub, tokens.claims()!.sub);
      await oidc.tokenRevocation(rp, tokens.access_token);
      assert.equal((await oidc.tokenIntrospection(rp, tokens.access_token)).active, false);
      for (const token of [tokens.access_token, 'bogus']) {
        const response = await fetch(server.url('/me'), { headers: { authorization: `Bearer ${token}` } });
        assert.equal(response.status, 401);
      }
      // RFC 6750: a missing token is a 401 with a WWW-Authenticate challenge.
      const missing = await fetch(server.url('/me'));
      assert.equal(missing.status, 401);
      assert.match(missing.headers.get('www-authenticate') ?? '', /^Bearer/);
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

      const unregistered = oidc.buildEndSessionUrl(rp, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'https://evil.example/' });
      const refused = await http.get(unregistered.href);
      assert.equal(refused.status, 400);
      assert.equal(refused.headers.get('location'), null);
    });

    it('answers malformed or hostile authorization requests with an error page and no redirect', async () => {
      const http = new HttpClient(server.issuer);
      const clientId = rp.clientMetadata().client_id;
      const base = { client_id: clientId, response_type: 'code', scope: 'openid', code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' };
      for (const redirect of [
        'https://evil.example/callback',
        `${REDIRECT_URI}?extra=1`,
        `${REDIRECT_URI}#frag`,
        'https://APP.example.com/callback',
        'https://app.example.com@evil.example/callback',
        'https://app.example.com/callback/../evil',
      ]) {
        const response = await http.get(`/auth?${new URLSearchParams({ ...base, redirect_uri: redirect })}`);
        assert.equal(response.status, 400, redirect);
        assert.equal(response.headers.get('location'), null, redirect);
        assert.match(await response.text(), /invalid_redirect_uri|invalid_request/);
      }
      for (const query of ['', 'client_id=unknown', `client_id=${clientId}&client_id=${clientId}`, 'response_type=token']) {
        const response = await http.get(`/auth?${query}`);
        assert.ok(response.status >= 400 && response.status < 500, `${query}: ${response.status}`);
        assert.equal(response.headers.get('location'), null);
        await response.body?.cancel();
      }
      const token = await fetch(server.url('/token'), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=nonsense' });
      assert.equal(token.status, 400);
      assert.ok(((await token.json()) as { error: string }).error);
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
