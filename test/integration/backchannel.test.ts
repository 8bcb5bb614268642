import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startPingReceiver } from '../helpers/ping-receiver.ts';
import { decodeJwt } from 'jose';
import type { ClientMetadata } from 'oidc-provider';
import { api, apiClient, apiToken, cibaClient } from '../helpers/api.ts';
import { INITIAL_ACCESS_TOKEN, startLatchkey, type TestServer } from '../helpers/app.ts';
import { SoftwareAuthenticator } from '../helpers/authenticator.ts';
import { finishAtApplication, openInteraction, signUp } from '../helpers/flows.ts';
import { csrfTokenOf, HttpClient } from '../helpers/http.ts';
import { authorizationRequest, registerRelyingParty } from '../helpers/rp.ts';

const bank = cibaClient('bank');
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

  it('the auth request response carries interval; polling a pending request faster gets slow_down, a decided one answers at once', async () => {
    const started = await backchannelRequest({ login_hint: person.email, binding_message: 'Polling test' });
    assert.equal(started.status, 200);
    assert.equal((started.body as { interval?: number }).interval, 5);
    const authReqId = started.body.auth_req_id!;
    assert.equal((await poll(authReqId)).body.error, 'authorization_pending');
    const tooSoon = await poll(authReqId);
    assert.equal(tooSoon.status, 400);
    assert.equal(tooSoon.body.error, 'slow_down');
    assert.equal((await poll(authReqId)).body.error, 'slow_down');
    // Another request has its own interval.
    const other = await backchannelRequest({ login_hint: person.email, binding_message: 'Another request' });
    assert.equal((await poll(other.body.auth_req_id!)).body.error, 'authorization_pending');
    // Once the person decided, the answer does not wait for the interval.
    const page = await openApproval(approvalLink(person.email));
    await page.browser.request('POST', `${page.path}/deny`, { form: { csrf: page.csrf } });
    assert.equal((await poll(other.body.auth_req_id!)).body.error, 'access_denied');
  });

  it('authorization_details: shown on the approval page (escaped), returned in the token response as approved; malformed ones refused', async () => {
    const transfer = { type: 'transfer', amount: '500.00', currency: 'EUR', payee: 'ACME <script>alert(1)</script>' };
    const started = await backchannelRequest({ login_hint: person.email, binding_message: 'Transfer to ACME', authorization_details: JSON.stringify([transfer]) });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const page = await openApproval(approvalLink(person.email));
    assert.equal(page.response.status, 200);
    assert.match(page.html, /<dt>Amount:<\/dt> <dd>EUR\u00a0500\.00<\/dd>/);
    assert.match(page.html, /<dt>To:<\/dt> <dd>ACME &lt;script&gt;alert\(1\)&lt;\/script&gt;<\/dd>/);
    assert.doesNotMatch(page.html, /<script>alert/, 'markup in the details is rendered inert');

    const verified = await approve(page);
    assert.equal(verified.status, 200, await verified.clone().text());
    const tokens = (await poll(started.body.auth_req_id!)) as { status: number; body: { access_token?: string; authorization_details?: unknown } };
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    assert.deepEqual(tokens.body.authorization_details, [transfer]);
    // The access token carries them too (introspection by the client that holds it).
    const introspected = (await (await fetch(server.url('/token/introspection'), {
      method: 'POST',
      headers: { authorization: basic(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tokens.body.access_token! }),
    })).json()) as { active: boolean; authorization_details?: unknown };
    assert.equal(introspected.active, true);
    assert.deepEqual(introspected.authorization_details, [transfer]);

    const events = (await (await api(server, await apiToken(server, admin, 'events:read'), 'GET', `/events?user_id=${person.sub}&type=backchannel.requested`)).json()) as { data: { data: Record<string, unknown> }[] };
    assert.deepEqual(events.data.at(-1)!.data.authorization_details, [transfer]);

    const malformed: unknown[] = [
      'not json',
      [{ type: 'transfer', amount: '-5', currency: 'EUR', payee: 'ACME' }],
      [{ type: 'transfer', amount: '5.001', currency: 'EUR', payee: 'ACME' }],
      [{ type: 'transfer', amount: '5', currency: 'euro', payee: 'ACME' }],
      [{ type: 'transfer', amount: '5', currency: 'EUR' }],
      [{ type: 'transfer', amount: '5', currency: 'EUR', payee: 'ACME', extra: true }],
      [{ type: 'transfer', amount: '5', currency: 'EUR', payee: 'line\nbreak' }],
      [{ type: 'wire', amount: '5' }],
      {},
    ];
    for (const details of malformed) {
      const refused = await backchannelRequest({ login_hint: person.email, authorization_details: typeof details === 'string' ? details : JSON.stringify(details) });
      assert.equal(refused.status, 400, JSON.stringify(details));
      assert.equal(refused.body.error, 'invalid_authorization_details', JSON.stringify(details));
    }
  });

  it('authorization_details are refused on authorization requests and at the token endpoint', async () => {
    const rp = await registerRelyingParty(server);
    const request = await authorizationRequest(rp);
    request.url.searchParams.set('authorization_details', JSON.stringify([{ type: 'transfer', amount: '1', currency: 'EUR', payee: 'X' }]));
    const response = await fetch(request.url, { redirect: 'manual' });
    const location = response.headers.get('location') ?? '';
    assert.equal(new URL(location).searchParams.get('error'), 'invalid_authorization_details');
    // A CIBA client cannot widen or swap the details at the token endpoint.
    const started = await backchannelRequest({ login_hint: person.email, authorization_details: JSON.stringify([{ type: 'transfer', amount: '1', currency: 'EUR', payee: 'X' }]) });
    const swapped = await fetch(server.url('/token'), {
      method: 'POST',
      headers: { authorization: basic(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: CIBA_GRANT,
        auth_req_id: started.body.auth_req_id!,
        authorization_details: JSON.stringify([{ type: 'transfer', amount: '9999', currency: 'EUR', payee: 'Mallory' }]),
      }),
    });
    assert.equal(swapped.status, 400);
    assert.equal(((await swapped.json()) as { error: string }).error, 'invalid_authorization_details');
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

describe('backchannel approval (CIBA, ping mode)', () => {
  let server: TestServer;
  let receiver: Awaited<ReturnType<typeof startPingReceiver>>;
  const email = 'pinged@example.com';
  let authenticator: SoftwareAuthenticator;
  const shop = {
    client_id: 'shop',
    client_secret: 'shop-secret-0123456789abcdefghijklmnopqrstuvwxyz',
    client_name: 'Example Shop',
    grant_types: [CIBA_GRANT],
    response_types: [],
    redirect_uris: [],
    backchannel_token_delivery_mode: 'ping',
    token_endpoint_auth_method: 'client_secret_basic',
  } satisfies ClientMetadata;
  const basic = `Basic ${Buffer.from(`${shop.client_id}:${shop.client_secret}`).toString('base64')}`;

  async function post(path: string, params: Record<string, string>) {
    const response = await fetch(server.url(path), {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  async function decideInBrowser(decision: 'approve' | 'deny') {
    const mail = server.mailbox.sent.filter((m) => m.to === email).at(-1)!;
    const path = new URL(mail.text.match(/https?:\/\/\S+\/approve\/[A-Za-z0-9_-]{43}/)![0]).pathname;
    const browser = new HttpClient(server.issuer);
    const csrf = csrfTokenOf(await (await browser.get(path)).text());
    if (decision === 'deny') return browser.request('POST', `${path}/deny`, { form: { csrf } });
    const options = (await (await browser.request('POST', `${path}/passkey/options`, { body: {}, headers: { 'x-csrf-token': csrf } })).json()) as never;
    return browser.request('POST', `${path}/passkey/verify`, { body: authenticator.getAssertion(options), headers: { 'x-csrf-token': csrf } });
  }

  before(async () => {
    receiver = await startPingReceiver();
    server = await startLatchkey({
      clients: [{ ...shop, backchannel_client_notification_endpoint: receiver.url }],
      env: { LATCHKEY_CIBA_PING_ALLOW_PRIVATE: 'true', LATCHKEY_CIBA_PING_CA_FILE: receiver.caFile },
    });
    authenticator = new SoftwareAuthenticator({ origin: server.issuer });
    const rp = await registerRelyingParty(server);
    const http = new HttpClient(server.issuer);
    await finishAtApplication(http, await signUp(http, server, authenticator, await openInteraction(http, (await authorizationRequest(rp)).url.href), email));
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  it('pings the client with its client_notification_token and the auth_req_id after approval; the token request then succeeds', async () => {
    const notificationToken = 'shop-notify-0123456789abcdef';
    const started = await post('/backchannel', { scope: 'openid', login_hint: email, binding_message: 'Pay 42 EUR', client_notification_token: notificationToken });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const authReqId = String(started.body.auth_req_id);
    assert.equal(receiver.received.length, 0, 'no ping before the person decided');

    const verified = await decideInBrowser('approve');
    assert.equal(verified.status, 200, await verified.clone().text());
    const ping = await receiver.next(1);
    assert.equal(ping.authorization, `Bearer ${notificationToken}`);
    assert.equal(ping.body.auth_req_id, authReqId);

    const tokens = await post('/token', { grant_type: CIBA_GRANT, auth_req_id: authReqId });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    assert.equal(decodeJwt(String(tokens.body.id_token)).acr, 'phrh');
  });

  it('pings after a denial too; the token request then gets access_denied', async () => {
    const started = await post('/backchannel', { scope: 'openid', login_hint: email, client_notification_token: 'shop-notify-second-request' });
    const denied = await decideInBrowser('deny');
    assert.equal(denied.status, 303);
    const ping = await receiver.next(2);
    assert.equal(ping.authorization, 'Bearer shop-notify-second-request');
    assert.equal(ping.body.auth_req_id, started.body.auth_req_id);
    assert.equal((await post('/token', { grant_type: CIBA_GRANT, auth_req_id: String(started.body.auth_req_id) })).body.error, 'access_denied');
  });

  it('a ping-mode request without client_notification_token is refused', async () => {
    const started = await post('/backchannel', { scope: 'openid', login_hint: email });
    assert.equal(started.status, 400);
    assert.equal(started.body.error, 'invalid_request');
  });
});

describe('CIBA ping endpoints outside development', () => {
  it('without LATCHKEY_CIBA_PING_ALLOW_PRIVATE a ping to 127.0.0.1 is refused; the decision stands and the client can poll', async () => {
    const receiver = await startPingReceiver();
    const server = await startLatchkey({
      clients: [{ ...bank, client_id: 'strict', backchannel_token_delivery_mode: 'ping', backchannel_client_notification_endpoint: receiver.url }],
    });
    try {
      const authenticator = new SoftwareAuthenticator({ origin: server.issuer });
      const rp = await registerRelyingParty(server);
      const http = new HttpClient(server.issuer);
      await finishAtApplication(http, await signUp(http, server, authenticator, await openInteraction(http, (await authorizationRequest(rp)).url.href), 'strict@example.com'));
      const auth = `Basic ${Buffer.from(`strict:${bank.client_secret}`).toString('base64')}`;
      const started = (await (await fetch(server.url('/backchannel'), {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ scope: 'openid', login_hint: 'strict@example.com', client_notification_token: 'strict-token-0123456789' }),
      })).json()) as { auth_req_id: string };
      const mail = server.mailbox.sent.filter((m) => m.to === 'strict@example.com').at(-1)!;
      const path = new URL(mail.text.match(/https?:\/\/\S+\/approve\/[A-Za-z0-9_-]{43}/)![0]).pathname;
      const browser = new HttpClient(server.issuer);
      const csrf = csrfTokenOf(await (await browser.get(path)).text());
      const denied = await browser.request('POST', `${path}/deny`, { form: { csrf } });
      assert.equal(denied.status, 303, 'the person is not shown the failed ping');
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(receiver.received.length, 0, 'loopback is not reachable from a production setup');
      const polled = (await (await fetch(server.url('/token'), {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: CIBA_GRANT, auth_req_id: started.auth_req_id }),
      })).json()) as { error: string };
      assert.equal(polled.error, 'access_denied');
    } finally {
      await server.close();
      await receiver.close();
    }
  });
});
