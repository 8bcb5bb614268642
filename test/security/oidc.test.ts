/**
 * Attacks on the OAuth 2.0 / OpenID Connect endpoints: redirect URIs, codes, PKCE, refresh
 * tokens, duplicated parameters, bearer tokens at userinfo, and RP-initiated logout. Each case
 * asserts the exact outcome: status, OAuth error code, and where (if anywhere) it redirects.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it, mock } from 'node:test';
import * as oidc from 'openid-client';
import { SoftwareAuthenticator } from '../helpers/authenticator.ts';
import { INITIAL_ACCESS_TOKEN, startLatchkey, type TestServer } from '../helpers/app.ts';
import { finishAtApplication, openInteraction, signUp, signedInUser } from '../helpers/flows.ts';
import { HttpClient } from '../helpers/http.ts';
import { authorizationRequest, redeem, registerRelyingParty, REDIRECT_URI } from '../helpers/rp.ts';
import { DATABASE_KINDS } from '../helpers/databases.ts';


function basic(rp: oidc.Configuration): string {
  return `Basic ${Buffer.from(`${rp.clientMetadata().client_id}:${rp.clientMetadata().client_secret}`).toString('base64')}`;
}

async function oauthError(response: Response): Promise<string> {
  return ((await response.json()) as { error: string }).error;
}

/** The error code of an error page (HTML for browsers, JSON for other callers). */
async function pageError(response: Response): Promise<string | undefined> {
  const text = await response.text();
  if (/json/.test(response.headers.get('content-type') ?? '')) return (JSON.parse(text) as { error?: string }).error;
  return text.match(/<code>([^<]+)<\/code>/)?.[1];
}

/** What a browser sends when it follows a link. */
const BROWSER = { accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8' };

function userinfo(server: TestServer, token: string): Promise<Response> {
  return fetch(server.url('/me'), { headers: { authorization: `Bearer ${token}` } });
}

for (const database of DATABASE_KINDS) {
  describe(`OAuth and OpenID Connect defences (${database})`, () => {
    let server: TestServer;
    let rp: oidc.Configuration;

    before(async () => {
      server = await startLatchkey({ database });
      rp = await registerRelyingParty(server);
    });
    after(() => server.close());

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
      assert.equal(await oauthError(selfPromoted), 'invalid_client_metadata');
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
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(auth) },
          body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: request.verifier, ...params }),
        });
      const other = await registerRelyingParty(server);
      for (const [label, response] of [
        ['wrong verifier', await token({ code_verifier: oidc.randomPKCECodeVerifier() })],
        ['other redirect uri', await token({ redirect_uri: 'https://app.example.com/other' })],
        ['other client', await token({}, other)],
      ] as const) {
        assert.equal(response.status, 400, label);
        assert.equal(await oauthError(response), 'invalid_grant', label);
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
        const response = await userinfo(server, token);
        assert.equal(response.status, 401);
        assert.match(response.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
      }
      // RFC 6750: a missing token is a 401 with a WWW-Authenticate challenge.
      const missing = await fetch(server.url('/me'));
      assert.equal(missing.status, 401);
      assert.match(missing.headers.get('www-authenticate') ?? '', /^Bearer/);
    });

    it('userinfo refuses an expired access token, and tokens of other kinds', async () => {
      const { tokens } = await signedInUser(server, rp, 'expired@example.com');
      assert.equal((await userinfo(server, tokens.access_token)).status, 200, 'the baseline: a live token works');
      // The process clock moves past the token's 600 s and oidc-provider's default 15 s of clock tolerance.
      const now = Date.now();
      const clock = mock.method(Date, 'now', () => now + 616_000);
      try {
        const expired = await userinfo(server, tokens.access_token);
        assert.equal(expired.status, 401);
        assert.match(expired.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
        assert.equal(((await expired.json()) as { error: string }).error, 'invalid_token');
      } finally {
        clock.mock.restore();
      }
      for (const other of [tokens.id_token!, tokens.refresh_token!]) {
        const response = await userinfo(server, other);
        assert.equal(response.status, 401);
        assert.equal(await oauthError(response), 'invalid_token');
      }
    });

    it('answers unregistered or altered redirect URIs with an error page and no redirect', async () => {
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
        'https://app.example.com/callback/',
        'http://app.example.com/callback',
        'https://app.example.com:443/callback',
        'https://app.example.com.evil.example/callback',
      ]) {
        const response = await http.get(`/auth?${new URLSearchParams({ ...base, redirect_uri: redirect })}`);
        assert.equal(response.status, 400, redirect);
        assert.equal(response.headers.get('location'), null, redirect);
        assert.match((await pageError(response)) ?? '', /^(invalid_redirect_uri|invalid_request)$/, redirect);
      }
      for (const query of ['', 'client_id=unknown', 'response_type=token']) {
        const response = await http.get(`/auth?${query}`);
        assert.ok(response.status >= 400 && response.status < 500, `${query}: ${response.status}`);
        assert.equal(response.headers.get('location'), null);
        await response.body?.cancel();
      }
      const token = await fetch(server.url('/token'), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=nonsense' });
      assert.equal(token.status, 400);
      assert.ok(await oauthError(token));
    });

    it('refuses parameters given twice at /auth, redirecting only to the registered URI', async () => {
      const clientId = rp.clientMetadata().client_id;
      const base: [string, string][] = [
        ['client_id', clientId],
        ['redirect_uri', REDIRECT_URI],
        ['response_type', 'code'],
        ['scope', 'openid'],
        ['code_challenge', 'a'.repeat(43)],
        ['code_challenge_method', 'S256'],
        ['state', 'one'],
        ['nonce', 'n'],
      ];
      const auth = (params: [string, string][]) => fetch(server.url(`/auth?${new URLSearchParams(params)}`), { redirect: 'manual' });
      // Without a trustworthy client, there is nowhere safe to send the error: a page, no redirect.
      for (const params of [
        [...base, ['client_id', clientId]],
        [...base, ['client_id', 'someone-else']],
      ] as [string, string][][]) {
        const response = await auth(params);
        assert.equal(response.status, 400);
        assert.equal(response.headers.get('location'), null);
        assert.equal(await pageError(response), 'invalid_request');
      }
      // A second redirect_uri never becomes the destination, in either order.
      for (const params of [
        [...base, ['redirect_uri', 'https://evil.example/callback']],
        [['redirect_uri', 'https://evil.example/callback'], ...base],
      ] as [string, string][][]) {
        const response = await auth(params);
        const location = response.headers.get('location');
        assert.ok(location === null || location.startsWith(`${REDIRECT_URI}?`), `redirected to ${location}`);
        if (location) assert.equal(new URL(location).searchParams.get('error'), 'invalid_request');
        else assert.equal(response.status, 400);
        await response.body?.cancel();
      }
      // Anything else twice: invalid_request, back to the registered redirect URI only, and no code.
      for (const name of ['redirect_uri', 'response_type', 'scope', 'code_challenge', 'code_challenge_method', 'state', 'nonce']) {
        const response = await auth([...base, [name, name === 'state' ? 'two' : base.find(([k]) => k === name)![1]]]);
        assert.equal(response.status, 303, name);
        const location = new URL(response.headers.get('location')!);
        assert.equal(location.origin + location.pathname, REDIRECT_URI, name);
        assert.equal(location.searchParams.get('error'), 'invalid_request', name);
        assert.equal(location.searchParams.get('code'), null, name);
      }
    });

    it('refuses parameters given twice at /token, and the code still works once afterwards', async () => {
      // A fresh code that has not been redeemed yet.
      const http = new HttpClient(server.issuer);
      const request = await authorizationRequest(rp);
      const authenticator = new SoftwareAuthenticator({ origin: server.issuer });
      const callback = await finishAtApplication(http, await signUp(http, server, authenticator, await openInteraction(http, request.url.href), 'dup-token@example.com'));
      const code = new URL(callback).searchParams.get('code')!;
      const good: [string, string][] = [
        ['grant_type', 'authorization_code'],
        ['code', code],
        ['redirect_uri', REDIRECT_URI],
        ['code_verifier', request.verifier],
      ];
      for (const [name, value] of [
        ['grant_type', 'authorization_code'],
        ['code', code],
        ['code', 'another-code'],
        ['redirect_uri', 'https://evil.example/callback'],
        ['code_verifier', request.verifier],
        ['code_verifier', oidc.randomPKCECodeVerifier()],
      ]) {
        const response = await fetch(server.url('/token'), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(rp) },
          body: new URLSearchParams([...good, [name!, value!]]),
        });
        assert.equal(response.status, 400, `${name} twice`);
        assert.equal(await oauthError(response), 'invalid_request', `${name} twice`);
      }
      // Nothing was consumed by the refused requests.
      const tokens = await redeem(rp, request, callback);
      assert.ok(tokens.access_token);
    });

    it('refuses a post_logout_redirect_uri that is not registered, without redirecting', async () => {
      const { http, tokens } = await signedInUser(server, rp, 'logout-uri@example.com');
      for (const uri of ['https://evil.example/', 'https://app.example.com/signed-out?x=1', 'https://app.example.com/signed-out/']) {
        const refused = await http.get(oidc.buildEndSessionUrl(rp, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: uri }).href, BROWSER);
        assert.match(refused.headers.get('content-type') ?? '', /text\/html/);
        assert.equal(refused.status, 400, uri);
        assert.equal(refused.headers.get('location'), null, uri);
        assert.equal(await pageError(refused), 'invalid_request', uri);
      }
    });

    it('refuses an id_token_hint tampered to alg "none" (or re-signed claims) on logout, and stays signed in', async () => {
      const { http, tokens } = await signedInUser(server, rp, 'alg-none@example.com');
      const [, payload, signature] = tokens.id_token!.split('.');
      const header = (h: object) => Buffer.from(JSON.stringify(h)).toString('base64url');
      const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
      const forgedPayload = Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url');
      for (const [label, hint] of [
        ['alg none, no signature', `${header({ alg: 'none', typ: 'JWT' })}.${payload}.`],
        ['alg none, original signature', `${header({ alg: 'none' })}.${payload}.${signature}`],
        ['alg HS256 keyed with nothing', `${header({ alg: 'HS256' })}.${payload}.${signature}`],
        ['changed claims, original signature', `${tokens.id_token!.split('.')[0]}.${forgedPayload}.${signature}`],
      ] as const) {
        const response = await http.get(oidc.buildEndSessionUrl(rp, { id_token_hint: hint, post_logout_redirect_uri: 'https://app.example.com/signed-out' }).href, BROWSER);
        assert.equal(response.status, 400, label);
        assert.equal(response.headers.get('location'), null, label);
        assert.equal(await pageError(response), 'invalid_request', label);
      }
      // The browser is still signed in: a silent request gets a code, not login_required.
      const silent = await authorizationRequest(rp, { prompt: 'none' });
      const { url } = await http.follow(silent.url.href);
      assert.ok(new URL(url).searchParams.get('code'), `still signed in: ${url}`);
    });
  });
}
