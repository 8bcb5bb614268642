import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import type { ClientMetadata } from 'oidc-provider';
import { startLatchkey, type TestServer } from '../helpers/app.ts';
import { SoftwareAuthenticator } from '../helpers/authenticator.ts';
import { finishAtApplication, openInteraction, postForm, signInWithPasskey, signUp } from '../helpers/flows.ts';
import { csrfTokenOf, HttpClient } from '../helpers/http.ts';
import { authorizationRequest, registerRelyingParty } from '../helpers/rp.ts';

const tv: ClientMetadata = {
  client_id: 'living-room-tv',
  client_name: 'Living Room TV',
  token_endpoint_auth_method: 'none',
  grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
  response_types: [],
  redirect_uris: [],
};
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

describe('device authorization grant (RFC 8628)', () => {
  let server: TestServer;
  let authenticator: SoftwareAuthenticator;

  async function post(path: string, params: Record<string, string>) {
    const response = await fetch(server.url(path), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: tv.client_id, ...params }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, string> };
  }

  /** The person types the code on Latchkey's page: returns the confirmation page. */
  async function enterCode(browser: HttpClient, verificationUri: string, userCode: string) {
    const page = await browser.get(new URL(verificationUri).pathname);
    const html = await page.text();
    assert.equal(page.status, 200);
    assert.match(html, /<label for="user-code">Code<\/label>/);
    const xsrf = html.match(/name="xsrf" value="([^"]+)"/)![1]!;
    const confirm = await browser.request('POST', '/device', { form: { xsrf, user_code: userCode } });
    return { response: confirm, html: await confirm.text() };
  }

  before(async () => {
    server = await startLatchkey({ clients: [tv] });
    const rp = await registerRelyingParty(server);
    authenticator = new SoftwareAuthenticator({ origin: server.issuer });
    const http = new HttpClient(server.issuer);
    await finishAtApplication(http, await signUp(http, server, authenticator, await openInteraction(http, (await authorizationRequest(rp)).url.href), 'viewer@example.com'));
  });
  after(() => server.close());

  it('the TV shows a code; the person enters it, confirms, signs in with a passkey; the TV gets tokens', async () => {
    const started = await post('/device/auth', { scope: 'openid email' });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const { device_code, user_code, verification_uri } = started.body;
    assert.match(user_code!, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    assert.equal((await post('/token', { grant_type: DEVICE_GRANT, device_code: device_code! })).body.error, 'authorization_pending');

    const browser = new HttpClient(server.issuer);
    const confirm = await enterCode(browser, verification_uri!, user_code!.toLowerCase());
    assert.equal(confirm.response.status, 200);
    assert.match(confirm.html, /<h1 id="page-title">Connect Living Room TV\?<\/h1>/);
    assert.ok(confirm.html.includes(user_code!));
    const xsrf = confirm.html.match(/name="xsrf" value="([^"]+)"/)![1]!;
    const confirmed = await browser.request('POST', '/device', { form: { xsrf, user_code: user_code!, confirm: 'yes' } });
    assert.ok([302, 303].includes(confirmed.status), `confirm answered ${confirmed.status}`);

    const landed = await browser.follow(confirmed.headers.get('location')!);
    const uid = new URL(landed.url).pathname.match(/^\/interaction\/([^/]+)/)?.[1];
    assert.ok(uid, `expected the sign-in page, got ${landed.url}`);
    const html = await landed.response.text();
    const verified = await signInWithPasskey(browser, authenticator, { uid, csrf: csrfTokenOf(html), html });
    assert.equal(verified.status, 200);
    let next = await browser.follow(((await verified.json()) as { redirectTo: string }).redirectTo);
    let body = await next.response.text();
    if (/<h1 id="page-title">Allow/.test(body)) {
      const page = { uid: new URL(next.url).pathname.split('/')[2]!, csrf: csrfTokenOf(body), html: body };
      const consent = await postForm(browser, page, '/consent', {});
      next = await browser.follow(consent.headers.get('location')!);
      body = await next.response.text();
    }
    assert.match(body, /<h1 id="page-title">Device connected<\/h1>/);

    const tokens = await post('/token', { grant_type: DEVICE_GRANT, device_code: device_code! });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    const claims = decodeJwt(tokens.body.id_token!);
    assert.equal(claims.acr, 'phrh');
    assert.deepEqual(claims.amr, ['pop', 'hwk', 'user', 'mfa']);
    const userinfo = await fetch(server.url('/me'), { headers: { authorization: `Bearer ${tokens.body.access_token}` } });
    assert.equal(((await userinfo.json()) as { email: string }).email, 'viewer@example.com');
    // The code is used up.
    assert.equal((await post('/token', { grant_type: DEVICE_GRANT, device_code: device_code! })).status, 400);
  });

  it('a wrong code is refused on the page; cancelling reaches the device as access_denied', async () => {
    const started = await post('/device/auth', { scope: 'openid' });
    const browser = new HttpClient(server.issuer);
    const wrong = await enterCode(browser, started.body.verification_uri!, 'BCDF-GHJK');
    assert.match(wrong.html, /role="alert"[^>]*><p>That code is not valid or has expired/);
    const confirm = await enterCode(browser, started.body.verification_uri!, started.body.user_code!);
    const xsrf = confirm.html.match(/name="xsrf" value="([^"]+)"/)![1]!;
    await browser.request('POST', '/device', { form: { xsrf, user_code: started.body.user_code!, confirm: 'yes', abort: 'yes' } });
    assert.equal((await post('/token', { grant_type: DEVICE_GRANT, device_code: started.body.device_code! })).body.error, 'access_denied');
  });
});
