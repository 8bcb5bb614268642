import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { api, apiClient, apiToken, assertProblem, requestToken } from '../helpers/api.ts';
import { INITIAL_ACCESS_TOKEN, startLatchkey, type TestServer } from '../helpers/app.ts';
import { SoftwareAuthenticator } from '../helpers/authenticator.ts';
import { finishAtApplication, openInteraction, postForm, signInWithPasskey, signUp } from '../helpers/flows.ts';
import { HttpClient } from '../helpers/http.ts';
import { authorizationRequest, redeem, registerRelyingParty, REDIRECT_URI } from '../helpers/rp.ts';

const admin = apiClient('backend-admin', 'users:read users:write events:read');
const reader = apiClient('backend-reader', 'users:read');
const outsider = apiClient('backend-outsider', 'openid');

describe('management API: users and passkeys', () => {
  let server: TestServer;
  let rp: oidc.Configuration;
  let adminToken: string;
  let readerToken: string;

  /** A person who signed up through the hosted pages and holds tokens with a refresh token. */
  async function person(email: string) {
    const authenticator = new SoftwareAuthenticator({ origin: server.issuer });
    const http = new HttpClient(server.issuer);
    await finishAtApplication(http, await signUp(http, server, authenticator, await openInteraction(http, (await authorizationRequest(rp)).url.href), email));
    const request = await authorizationRequest(rp, { scope: 'openid email offline_access', prompt: 'consent' });
    const { url } = await http.follow(request.url.href);
    const tokens = await redeem(rp, request, await finishAtApplication(http, url));
    assert.ok(tokens.refresh_token);
    return { email, authenticator, http, tokens, sub: tokens.claims()!.sub };
  }

  async function signInAnew(authenticator: SoftwareAuthenticator) {
    const browser = new HttpClient(server.issuer);
    const page = await openInteraction(browser, (await authorizationRequest(rp)).url.href);
    return signInWithPasskey(browser, authenticator, page);
  }

  async function createUser(body: Record<string, unknown>) {
    const response = await api(server, adminToken, 'POST', '/users', body);
    const json = (await response.json()) as Record<string, unknown>;
    assert.equal(response.status, 201, JSON.stringify(json));
    return json;
  }

  before(async () => {
    server = await startLatchkey({ clients: [admin, reader, outsider] });
    rp = await registerRelyingParty(server);
    adminToken = await apiToken(server, admin, 'users:read users:write');
    readerToken = await apiToken(server, reader, 'users:read');
  });
  after(() => server.close());

  describe('access tokens', () => {
    it('serves the OpenAPI document without a token', async () => {
      const response = await api(server, undefined, 'GET', '/openapi.json');
      assert.equal(response.status, 200);
      const doc = (await response.json()) as { openapi: string; paths: Record<string, unknown>; components: { securitySchemes: { clientCredentials: { flows: { clientCredentials: { tokenUrl: string } } } } } };
      assert.equal(doc.openapi, '3.1.0');
      for (const path of ['/users', '/users/{id}', '/users/{id}/disable', '/users/{id}/enable', '/users/{id}/passkeys', '/users/{id}/passkeys/{passkeyId}', '/events', '/webhooks', '/webhooks/{id}', '/webhooks/{id}/deliveries', '/users/{id}/enrollment-links', '/enrollment-links/{id}', '/enrollment-links/{id}/revoke']) {
        assert.ok(doc.paths[path], `${path} is described`);
      }
      assert.equal(doc.components.securitySchemes.clientCredentials.flows.clientCredentials.tokenUrl, server.url('/token'));
    });

    it('issues a client-credentials token for the API with the scopes asked for and allowed', async () => {
      const response = await requestToken(server, admin, { scope: 'users:read' });
      const body = (await response.json()) as { access_token: string; scope: string; token_type: string; expires_in: number };
      assert.equal(response.status, 200);
      assert.equal(body.scope, 'users:read');
      assert.equal(body.token_type, 'Bearer');
      assert.ok(body.expires_in > 0 && body.expires_in <= 600);
      // Naming the resource explicitly gives the same.
      const explicit = await requestToken(server, admin, { scope: 'users:read', resource: server.url('/api') });
      assert.equal(explicit.status, 200);
    });

    it('refuses scopes outside the client’s metadata, and clients without API scopes', async () => {
      const tooMuch = await requestToken(server, reader, { scope: 'users:write' });
      assert.equal(tooMuch.status, 400);
      assert.equal(((await tooMuch.json()) as { error: string }).error, 'invalid_scope');
      const none = await requestToken(server, outsider, { scope: 'users:read' });
      assert.equal(none.status, 400);
      assert.match(((await none.json()) as { error: string }).error, /invalid_scope|invalid_target/);
      const otherResource = await requestToken(server, admin, { scope: 'users:read', resource: 'https://elsewhere.example/api' });
      assert.equal(((await otherResource.json()) as { error: string }).error, 'invalid_target');
    });

    it('refuses dynamic registration of a client asking for API scopes', async () => {
      const response = await fetch(server.url('/reg'), {
        method: 'POST',
        headers: { authorization: `Bearer ${INITIAL_ACCESS_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: [REDIRECT_URI], grant_types: ['client_credentials', 'authorization_code'], scope: 'openid users:write' }),
      });
      assert.equal(response.status, 400);
      assert.equal(((await response.json()) as { error: string }).error, 'invalid_client_metadata');
    });

    it('answers 401 invalid_token without a token, with a foreign token, and with a person’s access token', async () => {
      const missing = await api(server, undefined, 'GET', '/users');
      await assertProblem(missing, 401, 'invalid_token');
      assert.match(missing.headers.get('www-authenticate') ?? '', /^Bearer error="invalid_token"/);
      await assertProblem(await api(server, 'not-a-token-at-all-0123456789', 'GET', '/users'), 401, 'invalid_token');
      await assertProblem(await api(server, undefined, 'GET', '/users', undefined, { authorization: 'Basic Zm9vOmJhcg==' }), 401, 'invalid_token');
      const someone = await person('delegated@example.com');
      await assertProblem(await api(server, someone.tokens.access_token, 'GET', '/users'), 401, 'invalid_token');
    });

    it('answers 403 insufficient_scope when the token lacks the scope', async () => {
      const response = await api(server, readerToken, 'POST', '/users', { email: 'nobody@example.com' });
      await assertProblem(response, 403, 'insufficient_scope');
      assert.match(response.headers.get('www-authenticate') ?? '', /insufficient_scope", scope="users:write"/);
      const narrow = await apiToken(server, admin, 'events:read');
      await assertProblem(await api(server, narrow, 'GET', '/users'), 403, 'insufficient_scope');
    });

    it('answers problem details for unknown paths and methods, whatever the Accept header', async () => {
      await assertProblem(await api(server, adminToken, 'GET', '/nothing-here', undefined, { accept: 'text/html' }), 404, 'not_found');
      await assertProblem(await api(server, adminToken, 'PUT', '/users'), 405, 'method_not_allowed');
      const response = await api(server, adminToken, 'GET', '/users');
      assert.equal(response.headers.get('cache-control'), 'no-store');
    });
  });

  describe('users', () => {
    it('creates a user with an external id, reads it back, and finds it by external id', async () => {
      const hash = 'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';
      const created = await createUser({ email: ' Ada@Example.com ', external_id: hash, name: 'Ada', email_verified: true });
      assert.equal(created.email, 'ada@example.com');
      assert.equal(created.external_id, hash);
      assert.equal(created.status, 'active');
      assert.equal(created.email_verified, true);
      const read = await api(server, readerToken, 'GET', `/users/${created.id}`);
      assert.deepEqual(await read.json(), created);
      const found = (await (await api(server, readerToken, 'GET', `/users?external_id=${encodeURIComponent(hash)}`)).json()) as { data: { id: string }[] };
      assert.deepEqual(found.data.map((u) => u.id), [created.id]);
      const byEmail = (await (await api(server, readerToken, 'GET', '/users?email=ADA@example.com')).json()) as { data: { id: string }[] };
      assert.deepEqual(byEmail.data.map((u) => u.id), [created.id]);
    });

    it('refuses a taken email, a taken external id and bad input with stable codes', async () => {
      await createUser({ email: 'grace@example.com', external_id: 'crm-42' });
      await assertProblem(await api(server, adminToken, 'POST', '/users', { email: 'GRACE@example.com' }), 409, 'user_exists');
      await assertProblem(await api(server, adminToken, 'POST', '/users', { email: 'other@example.com', external_id: 'crm-42' }), 409, 'external_id_taken');
      await assertProblem(await api(server, adminToken, 'POST', '/users', { email: 'not an email' }), 400, 'invalid_email');
      await assertProblem(await api(server, adminToken, 'POST', '/users', {}), 400, 'invalid_email');
      await assertProblem(await api(server, adminToken, 'POST', '/users', { email: 'x@example.com', role: 'admin' }), 400, 'invalid_request');
      await assertProblem(await api(server, adminToken, 'POST', '/users', { email: 'x@example.com', external_id: 'has space' }), 400, 'invalid_request');
      await assertProblem(await api(server, adminToken, 'POST', '/users', { email: 'x@example.com', external_id: 'x'.repeat(256) }), 400, 'invalid_request');
      await assertProblem(await api(server, adminToken, 'POST', '/users', { email: 'x@example.com', email_verified: 'yes' }), 400, 'invalid_request');
      await assertProblem(await api(server, adminToken, 'POST', '/users', [1, 2]), 400, 'invalid_request');
      await assertProblem(await api(server, adminToken, 'POST', '/users', '{"email": '), 400, 'invalid_request');
      await assertProblem(await api(server, adminToken, 'POST', '/users', JSON.stringify({ email: 'x@example.com', pad: 'x'.repeat(40_000) })), 413, 'payload_too_large');
      // Nothing was created by the refused requests.
      const x = (await (await api(server, readerToken, 'GET', '/users?email=x@example.com')).json()) as { data: unknown[] };
      assert.equal(x.data.length, 0);
    });

    it('answers 404 user_not_found for an unknown id', async () => {
      await assertProblem(await api(server, readerToken, 'GET', '/users/does-not-exist'), 404, 'user_not_found');
      await assertProblem(await api(server, adminToken, 'POST', '/users/does-not-exist/disable'), 404, 'user_not_found');
      await assertProblem(await api(server, adminToken, 'DELETE', '/users/does-not-exist'), 404, 'user_not_found');
      await assertProblem(await api(server, readerToken, 'GET', '/users/does-not-exist/passkeys'), 404, 'user_not_found');
    });

    it('lists every user exactly once across pages, oldest first', async () => {
      for (let i = 0; i < 7; i++) await createUser({ email: `page-${i}@example.com` });
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 50; pages++) {
        const response = await api(server, readerToken, 'GET', `/users?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
        assert.equal(response.status, 200);
        const body = (await response.json()) as { data: { email: string; created_at: string }[]; next_cursor: string | null };
        assert.ok(body.data.length <= 3);
        seen.push(...body.data.map((u) => u.email));
        cursor = body.next_cursor;
        if (!cursor) break;
      }
      assert.equal(cursor, null, 'the walk ended');
      assert.equal(new Set(seen).size, seen.length, 'no user twice');
      for (let i = 0; i < 7; i++) assert.ok(seen.includes(`page-${i}@example.com`));
      const pageEmails = seen.filter((e) => e.startsWith('page-'));
      assert.deepEqual(pageEmails, [...pageEmails].sort(), 'creation order');
    });

    it('refuses a bad cursor or limit', async () => {
      await assertProblem(await api(server, readerToken, 'GET', '/users?cursor=garbage'), 400, 'invalid_cursor');
      await assertProblem(await api(server, readerToken, 'GET', '/users?limit=0'), 400, 'invalid_request');
      await assertProblem(await api(server, readerToken, 'GET', '/users?limit=201'), 400, 'invalid_request');
      await assertProblem(await api(server, readerToken, 'GET', '/users?limit=2&limit=3'), 400, 'invalid_request');
    });
  });

  describe('disable, enable, delete', () => {
    it('a disabled account is refused at sign-in, refresh, userinfo and recovery; enabling lets it back in', async () => {
      const ann = await person('ann@example.com');
      const disabled = await api(server, adminToken, 'POST', `/users/${ann.sub}/disable`);
      assert.equal(disabled.status, 200);
      assert.equal(((await disabled.json()) as { status: string }).status, 'disabled');

      const signIn = await signInAnew(ann.authenticator);
      assert.equal(signIn.status, 403);
      assert.equal(((await signIn.json()) as { code: string }).code, 'account_disabled');
      await assert.rejects(oidc.refreshTokenGrant(rp, ann.tokens.refresh_token!), (e: Error & { error?: string }) => e.error === 'invalid_grant');
      await assert.rejects(oidc.fetchUserInfo(rp, ann.tokens.access_token, ann.sub));
      // The browser's existing session is gone: a new authorization request lands on the sign-in page.
      const request = await authorizationRequest(rp);
      const { url } = await ann.http.follow(request.url.href);
      assert.match(new URL(url).pathname, /^\/interaction\//, 'no code without signing in again');
      // Recovery sends no code to a disabled account's address.
      const recoveryBrowser = new HttpClient(server.issuer);
      const page = await openInteraction(recoveryBrowser, (await authorizationRequest(rp)).url.href);
      const before = server.mailbox.sent.length;
      await postForm(recoveryBrowser, page, '/recovery', { email: ann.email });
      const mails = server.mailbox.sent.slice(before);
      assert.ok(mails.length === 1 && !/\b\d{6}\b/.test(mails[0]!.text), 'a notice, not a code');

      const enabled = await api(server, adminToken, 'POST', `/users/${ann.sub}/enable`);
      assert.equal(((await enabled.json()) as { status: string }).status, 'active');
      assert.equal((await signInAnew(ann.authenticator)).status, 200);
    });

    it('lists a user’s passkeys and removes one: it no longer signs in', async () => {
      const bea = await person('bea@example.com');
      const listed = await api(server, readerToken, 'GET', `/users/${bea.sub}/passkeys`);
      const { data } = (await listed.json()) as { data: { id: string; device_type: string; backed_up: boolean; created_at: string }[] };
      assert.deepEqual(data.map((p) => p.id), bea.authenticator.credentials.map((c) => c.id));
      assert.ok(data[0]!.created_at);
      await assertProblem(await api(server, readerToken, 'DELETE', `/users/${bea.sub}/passkeys/${data[0]!.id}`), 403, 'insufficient_scope');
      await assertProblem(await api(server, adminToken, 'DELETE', `/users/${bea.sub}/passkeys/unknown-credential`), 404, 'passkey_not_found');
      // Another user's passkey id under this user is answered like an unknown one.
      const cy = await person('cy@example.com');
      await assertProblem(await api(server, adminToken, 'DELETE', `/users/${bea.sub}/passkeys/${cy.authenticator.credentials[0]!.id}`), 404, 'passkey_not_found');
      const sessions = async (accountId: string) => Number((await server.db('oidc_payloads').where({ model: 'Session', account_id: accountId }).count({ n: '*' }))[0]!.n);
      assert.ok((await sessions(bea.sub)) > 0, 'bea is signed in somewhere');
      const cysSessions = await sessions(cy.sub);
      const removed = await api(server, adminToken, 'DELETE', `/users/${bea.sub}/passkeys/${data[0]!.id}`);
      assert.equal(removed.status, 204);
      assert.equal(await sessions(bea.sub), 0, 'the browsers that signed in with it are signed out');
      assert.equal(await sessions(cy.sub), cysSessions, 'nobody else is');
      assert.deepEqual(((await (await api(server, readerToken, 'GET', `/users/${bea.sub}/passkeys`)).json()) as { data: unknown[] }).data, []);
      const signIn = await signInAnew(bea.authenticator);
      assert.equal(signIn.status, 400);
      assert.equal((await signInAnew(cy.authenticator)).status, 200, 'the other user is untouched');
    });

    it('deletes a user with their passkeys, sessions, grants and tokens', async () => {
      const dee = await person('dee@example.com');
      assert.ok(Number((await server.db('oidc_payloads').where({ account_id: dee.sub }).count({ n: '*' }))[0]!.n) > 0);
      await assertProblem(await api(server, readerToken, 'DELETE', `/users/${dee.sub}`), 403, 'insufficient_scope');
      const deleted = await api(server, adminToken, 'DELETE', `/users/${dee.sub}`);
      assert.equal(deleted.status, 204);
      await assertProblem(await api(server, readerToken, 'GET', `/users/${dee.sub}`), 404, 'user_not_found');
      assert.equal(Number((await server.db('oidc_payloads').where({ account_id: dee.sub }).count({ n: '*' }))[0]!.n), 0);
      assert.equal(Number((await server.db('passkeys').where({ account_id: dee.sub }).count({ n: '*' }))[0]!.n), 0);
      await assert.rejects(oidc.refreshTokenGrant(rp, dee.tokens.refresh_token!), (e: Error & { error?: string }) => e.error === 'invalid_grant');
      assert.notEqual((await signInAnew(dee.authenticator)).status, 200);
      // The address is free again: the person can sign up anew.
      await createUser({ email: dee.email });
    });
  });
});
