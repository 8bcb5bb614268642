import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import type { ClientMetadata } from 'oidc-provider';
import { api, apiClient, apiToken } from '../helpers/api.ts';
import { INITIAL_ACCESS_TOKEN, startLatchkey, type TestServer } from '../helpers/app.ts';
import { SoftwareAuthenticator } from '../helpers/authenticator.ts';
import { finishAtApplication, openInteraction, signUp } from '../helpers/flows.ts';
import { csrfTokenOf, HttpClient } from '../helpers/http.ts';
import { authorizationRequest, registerRelyingParty } from '../helpers/rp.ts';

const bank: ClientMetadata = {
  client_id: 'bank',
  client_secret: 'bank-secret-0123456789abcdefghijklmnopqrstuvwxyz',
  client_name: 'Example Bank',
  grant_types: ['urn:openid:params:grant-type:ciba'],
  response_types: [],
  redirect_uris: [],
  backchannel_token_delivery_mode: 'poll',
  token_endpoint_auth_method: 'client_secret_basic',
};
const admin = apiClient('admin', 'users:read users:write events:read');
const CIBA_GRANT = 'urn:openid:params:grant-type:ciba';

describe('backchannel approval (CIBA, poll mode)', () => {
  let server: TestServer;
  let person: { email: string; sub: string; authenticator: SoftwareAuthenticator };

  function basic(): string {
    return `Basic ${Buffer.from(`${bank.client_id}:${bank.client_secret}`).toString('base64')}`;
  }

  async function backchannelRequest(params: Record<string, string>) {
    const response = await fetch(server.url('/backchannel'), {
      method: 'POST',
      headers: { authorization: basic(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ scope: 'openid email', ...params }),
    });
    return { status: response.status, body: (await response.json()) as { auth_req_id?: string; expires_in?: number; error?: string } };
  }

  async function poll(authReqId: string) {
    const response = await fetch(server.url('/token'), {
      method: 'POST',
      headers: { authorization: basic(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: CIBA_GRANT, auth_req_id: authReqId }),
    });
    return { status: response.status, body: (await response.json()) as { id_token?: string; access_token?: string; error?: string } };
  }

  /** The approval link mailed for the last request to this address. */
  function approvalLink(email: string): string {
    const mail = server.mailbox.sent.filter((m) => m.to === email).at(-1)!;
    const url = mail.text.match(/https?:\/\/\S+\/approve\/[A-Za-z0-9_-]{43}/)?.[0];
    assert.ok(url, 'the mail holds the approval link');
    return url;
  }

  async function openApproval(url: string) {
    const browser = new HttpClient(server.issuer);
    const response = await browser.get(new URL(url).pathname);
    const html = await response.text();
    return { browser, response, html, path: new URL(url).pathname, csrf: response.status === 200 ? csrfTokenOf(html) : '' };
  }

  async function approve(page: Awaited<ReturnType<typeof openApproval>>, authenticator = person.authenticator) {
    const options = await page.browser.request('POST', `${page.path}/passkey/options`, { body: {}, headers: { 'x-csrf-token': page.csrf } });
    const optionsJson = (await options.json()) as { allowCredentials: { id: string }[] };
    assert.equal(options.status, 200);
    return page.browser.request('POST', `${page.path}/passkey/verify`, { body: authenticator.getAssertion(optionsJson as never), headers: { 'x-csrf-token': page.csrf } });
  }

  before(async () => {
    server = await startLatchkey({ clients: [bank, admin] });
    const rp = await registerRelyingParty(server);
    const authenticator = new SoftwareAuthenticator({ origin: server.issuer });
    const http = new HttpClient(server.issuer);
    const email = 'payer@example.com';
    await finishAtApplication(http, await signUp(http, server, authenticator, await openInteraction(http, (await authorizationRequest(rp)).url.href), email));
    const users = (await (await api(server, await apiToken(server, admin, 'users:read'), 'GET', `/users?email=${email}`)).json()) as { data: { id: string }[] };
    person = { email, sub: users.data[0]!.id, authenticator };
  });
  after(() => server.close());

  it('the person approves "Transfer 500 EUR to ACME" with a passkey; the bank gets tokens with truthful acr/amr', async () => {
    const started = await backchannelRequest({ login_hint: person.email, binding_message: 'Transfer 500 EUR to ACME' });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const authReqId = started.body.auth_req_id!;
    assert.ok(started.body.expires_in! > 0);
    assert.equal((await poll(authReqId)).body.error, 'authorization_pending');

    const page = await openApproval(approvalLink(person.email));
    assert.equal(page.response.status, 200);
    assert.match(page.html, /<h1 id="page-title">Approve a request from Example Bank<\/h1>/);
    assert.match(page.html, /<strong>Transfer 500 EUR to ACME<\/strong>/);
    assert.match(page.html, /<button type="button" id="approve" class="primary"[^>]*>Approve<\/button>/);
    assert.match(page.html, /<button type="submit" class="secondary">Deny<\/button>/);

    const verified = await approve(page);
    assert.equal(verified.status, 200, await verified.clone().text());
    const tokens = await poll(authReqId);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    const claims = decodeJwt(tokens.body.id_token!);
    assert.equal(claims.sub, person.sub);
    assert.equal(claims.acr, 'phrh');
    assert.deepEqual(claims.amr, ['pop', 'hwk', 'user', 'mfa']);
    assert.ok(typeof claims.auth_time === 'number');
    // The request is answered once: the tokens are not issued twice, the approval is not replayed.
    assert.equal((await poll(authReqId)).status, 400);
    const replay = await page.browser.request('POST', `${page.path}/passkey/options`, { body: {}, headers: { 'x-csrf-token': page.csrf } });
    assert.equal(replay.status, 410);

    const events = (await (await api(server, await apiToken(server, admin, 'events:read'), 'GET', `/events?user_id=${person.sub}&type=backchannel.requested`)).json()) as { data: { data: Record<string, unknown> }[] };
    assert.equal(events.data.at(-1)!.data.binding_message, 'Transfer 500 EUR to ACME');
    assert.match(String(events.data.at(-1)!.data.approval_url), /\/approve\//);
  });

  it('a denial reaches the bank as access_denied', async () => {
    const started = await backchannelRequest({ login_hint: person.email, binding_message: 'Pay 20 EUR' });
    const page = await openApproval(approvalLink(person.email));
    const denied = await page.browser.request('POST', `${page.path}/deny`, { form: { csrf: page.csrf } });
    assert.equal(denied.status, 303);
    assert.equal((await poll(started.body.auth_req_id!)).body.error, 'access_denied');
    const again = await openApproval(approvalLink(person.email));
    assert.equal(again.response.status, 410);
  });

  it('an assertion made for one request cannot approve another', async () => {
    await backchannelRequest({ login_hint: person.email, binding_message: 'Small payment' });
    const first = await openApproval(approvalLink(person.email));
    const second = await backchannelRequest({ login_hint: person.email, binding_message: 'Large payment' });
    const other = await openApproval(approvalLink(person.email));
    const options = (await (await first.browser.request('POST', `${first.path}/passkey/options`, { body: {}, headers: { 'x-csrf-token': first.csrf } })).json()) as never;
    const assertion = person.authenticator.getAssertion(options);
    // Signed for the first request's challenge, sent to the second.
    const crossed = await other.browser.request('POST', `${other.path}/passkey/verify`, { body: assertion, headers: { 'x-csrf-token': other.csrf } });
    assert.equal(crossed.status, 400);
    assert.equal(((await crossed.json()) as { code: string }).code, 'passkey_challenge_invalid');
    assert.equal((await poll(second.body.auth_req_id!)).body.error, 'authorization_pending');
  });

  it('names the person by email, external id or subject; refuses unknown and disabled people and bad binding messages', async () => {
    const token = await apiToken(server, admin, 'users:read users:write');
    const created = (await (await api(server, token, 'POST', '/users', { email: 'hashed@example.com', external_id: 'hmac:abc123' })).json()) as { id: string };
    assert.equal((await backchannelRequest({ login_hint: 'hmac:abc123' })).status, 200);
    assert.equal((await backchannelRequest({ login_hint: created.id })).status, 200);
    assert.equal((await backchannelRequest({ login_hint: 'nobody@example.com' })).body.error, 'unknown_user_id');
    await api(server, token, 'POST', `/users/${created.id}/disable`);
    assert.equal((await backchannelRequest({ login_hint: 'hmac:abc123' })).body.error, 'unknown_user_id');
    assert.equal((await backchannelRequest({ login_hint: person.email, binding_message: 'line\nbreak' })).body.error, 'invalid_binding_message');
    assert.equal((await backchannelRequest({ login_hint: person.email, binding_message: 'x'.repeat(101) })).body.error, 'invalid_binding_message');
  });

  it('refuses dynamic registration of a CIBA client', async () => {
    const response = await fetch(server.url('/reg'), {
      method: 'POST',
      headers: { authorization: `Bearer ${INITIAL_ACCESS_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Phisher', grant_types: [CIBA_GRANT], response_types: [], redirect_uris: [], backchannel_token_delivery_mode: 'poll' }),
    });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { error: string }).error, 'invalid_client_metadata');
  });

  it('a person disabled after the request cannot approve it', async () => {
    const token = await apiToken(server, admin, 'users:read users:write');
    const authenticator = new SoftwareAuthenticator({ origin: server.issuer });
    const rp = await registerRelyingParty(server);
    const http = new HttpClient(server.issuer);
    await finishAtApplication(http, await signUp(http, server, authenticator, await openInteraction(http, (await authorizationRequest(rp)).url.href), 'soon-disabled@example.com'));
    const started = await backchannelRequest({ login_hint: 'soon-disabled@example.com' });
    const page = await openApproval(approvalLink('soon-disabled@example.com'));
    const users = (await (await api(server, token, 'GET', '/users?email=soon-disabled@example.com')).json()) as { data: { id: string }[] };
    await api(server, token, 'POST', `/users/${users.data[0]!.id}/disable`);
    const options = await page.browser.request('POST', `${page.path}/passkey/options`, { body: {}, headers: { 'x-csrf-token': page.csrf } });
    assert.equal(options.status, 403);
    assert.notEqual((await poll(started.body.auth_req_id!)).status, 200);
  });
});
