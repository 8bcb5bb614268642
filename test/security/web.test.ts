/**
 * Attacks through the browser: cross-site requests, interaction and session cookies (binding,
 * rotation, fixation, flags behind a TLS-terminating proxy), security headers, open redirects,
 * forged Host headers, and script in user-supplied values.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type * as oidc from 'openid-client';
import { SoftwareAuthenticator } from '../helpers/authenticator.ts';
import { INITIAL_ACCESS_TOKEN, startLatchkey, type TestServer } from '../helpers/app.ts';
import { finishAtApplication, openInteraction, postForm, postJson, signInWithPasskey, signUp } from '../helpers/flows.ts';
import { csrfTokenOf, HttpClient, type SeenResponse } from '../helpers/http.ts';
import { authorizationRequest, registerRelyingParty, REDIRECT_URI } from '../helpers/rp.ts';

const STATE_CHANGING = [
  ['/signup', 'form'],
  ['/signup/code', 'form'],
  ['/signup/passkey/options', 'json'],
  ['/signup/passkey/verify', 'json'],
  ['/recovery', 'form'],
  ['/recovery/code', 'form'],
  ['/recovery/passkey/options', 'json'],
  ['/recovery/passkey/verify', 'json'],
  ['/passkey/options', 'json'],
  ['/passkey/verify', 'json'],
  ['/consent', 'form'],
  ['/abort', 'form'],
] as const;

const CLIENT_NAME = '<script>alert("client")</script>';

/** A GET over node:http, which (unlike fetch) may send any Host header. */
function rawGet(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; location: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, location: res.headers.location, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The headers README promises on every response (and HTML page). */
function assertSecurityHeaders(response: SeenResponse | Response, label: string): void {
  const csp = response.headers.get('content-security-policy') ?? '';
  assert.match(csp, /script-src 'self'(;|$)/, `CSP on ${label}: ${csp}`);
  assert.match(csp, /default-src 'self'/, label);
  assert.match(csp, /object-src 'none'/, label);
  assert.match(csp, /base-uri 'none'/, label);
  assert.match(csp, /frame-ancestors 'none'/, label);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, label);
  assert.equal(response.headers.get('x-content-type-options'), 'nosniff', label);
  assert.equal(response.headers.get('referrer-policy'), 'same-origin', label);
  assert.equal(response.headers.get('x-frame-options'), 'DENY', label);
}

/** Where a response may send the browser: Latchkey itself, or a redirect URI the client registered. */
function assertSafeLocation(response: SeenResponse, issuer: string, registered: readonly string[]): void {
  const location = response.headers.get('location');
  if (location === null) return;
  const target = new URL(location, response.url);
  const ok = target.origin === issuer || registered.some((uri) => `${target.origin}${target.pathname}` === uri);
  assert.ok(ok, `${response.method} ${response.url} redirects to ${location}`);
  // A relative Location must not be scheme-relative ("//evil.example").
  assert.ok(!/^\/[\\/]/.test(location), `${response.url}: scheme-relative Location ${location}`);
}

describe('web defences', () => {
  let server: TestServer;
  let rp: oidc.Configuration;

  before(async () => {
    server = await startLatchkey();
    rp = await registerRelyingParty(server, { client_name: CLIENT_NAME });
  });
  after(() => server.close());

  async function newPage(params: Record<string, string> = {}, http = new HttpClient(server.issuer)) {
    return { http, page: await openInteraction(http, (await authorizationRequest(rp, params)).url.href) };
  }

  /** A person with an account and a browser signed in with their passkey. */
  async function signedIn(email: string) {
    const authenticator = new SoftwareAuthenticator({ origin: server.issuer });
    const first = new HttpClient(server.issuer);
    await finishAtApplication(first, await signUp(first, server, authenticator, (await newPage({}, first)).page, email));
    const browser = new HttpClient(server.issuer);
    const verified = await signInWithPasskey(browser, authenticator, (await newPage({}, browser)).page);
    await finishAtApplication(browser, ((await verified.json()) as { redirectTo: string }).redirectTo);
    return { authenticator, browser, signUpBrowser: first };
  }

  for (const [path, kind] of STATE_CHANGING) {
    it(`refuses cross-site and token-less POSTs to ${path}`, async () => {
      const { http, page } = await newPage();
      const mailsBefore = server.mailbox.sent.length;
      const url = `/interaction/${page.uid}${path}`;
      const send = (token: string | undefined, headers: Record<string, string> = {}) =>
        kind === 'form'
          ? http.request('POST', url, { form: token === undefined ? { email: 'a@example.com' } : { csrf: token, email: 'a@example.com' }, headers })
          : http.request('POST', url, { body: {}, headers: token === undefined ? headers : { 'x-csrf-token': token, ...headers } });
      for (const [label, response] of [
        ['no token', await send(undefined)],
        ['a wrong token', await send('A'.repeat(43))],
        ['another origin', await send(page.csrf, { origin: 'https://evil.example' })],
        ['a cross-site fetch', await send(page.csrf, { 'sec-fetch-site': 'cross-site' })],
        ['a sibling-subdomain fetch', await send(page.csrf, { 'sec-fetch-site': 'same-site' })],
        ['a withheld origin from elsewhere', await send(page.csrf, { origin: 'null' })],
        ['a withheld origin, cross-site', await send(page.csrf, { origin: 'null', 'sec-fetch-site': 'cross-site' })],
      ] as const) {
        assert.equal(response.status, 403, `${label}: ${response.status}`);
        assert.equal(response.headers.get('location'), null, label);
        const text = await response.text();
        assert.match(text, /csrf_failed/, label);
      }
      // Nothing was started: no code was mailed, the interaction still waits for sign-in.
      assert.equal(server.mailbox.sent.length, mailsBefore);
      assert.equal((await server.db('email_codes').where({ interaction_uid: page.uid })).length, 0);
      // The page's own request with a withheld origin (what browsers send under strict referrer policies) is accepted.
      const own = await send(page.csrf, { origin: 'null', 'sec-fetch-site': 'same-origin' });
      assert.notEqual(own.status, 403, `own withheld-origin request: ${own.status}`);
      await own.body?.cancel();
    });
  }

  it('escapes every user-supplied value on the pages', async () => {
    const { http, page } = await newPage({ login_hint: '"><script>alert("hint")</script>' });
    assert.doesNotMatch(page.html, /<script>alert/);
    assert.match(page.html, /&lt;script&gt;alert\(&quot;client&quot;\)&lt;\/script&gt;/);
    assert.match(page.html, /value="&quot;&gt;&lt;script&gt;/);
    const codePage = await http.get(`/interaction/${page.uid}/signup/code?email=${encodeURIComponent('<img src=x onerror=alert(1)>')}`);
    const html = await codePage.text();
    assert.doesNotMatch(html, /<img src=x/);
    assert.match(html, /&lt;img src=x onerror=alert\(1\)&gt;/);
  });

  it('renders script in the email, the passkey name and the client name inert on every page that shows them', async () => {
    // normalizeEmail refuses < > " but an address may hold ' & { } *: quotes and template syntax.
    const email = "o'neil&{{7*7}}{%raw%}@example.com";
    const authenticator = new SoftwareAuthenticator({ origin: server.issuer });
    const http = new HttpClient(server.issuer);
    const { page } = await newPage({}, http);
    assert.equal((await postForm(http, page, '/signup', { email })).status, 303);
    const pages: string[] = [];
    pages.push(await (await http.get(`/interaction/${page.uid}/signup/code?email=${encodeURIComponent(email)}`)).text());
    assert.equal((await postForm(http, page, '/signup/code', { code: server.mailbox.lastCode(email) })).status, 303);
    pages.push(await (await http.get(`/interaction/${page.uid}/signup/passkey`)).text());
    const options = await postJson(http, page, '/signup/passkey/options', {});
    assert.match(options.headers.get('content-type') ?? '', /^application\/json/, 'the user name reaches the browser as JSON only');
    const created = await postJson(http, page, '/signup/passkey/verify', authenticator.createCredential(await options.json()));
    assert.equal(created.status, 200);
    // The consent page names the client.
    const consent = await http.follow(((await created.json()) as { redirectTo: string }).redirectTo);
    pages.push(await consent.response.text());
    await finishAtApplication(http, consent.url);
    // The step-up page shows the email and the client name.
    const stepUp = await http.follow((await authorizationRequest(rp, { prompt: 'login' })).url.href);
    pages.push(await stepUp.response.text());
    // The account page shows the email, the passkey's name (also inside an attribute) and the applications.
    const id = authenticator.credentials[0]!.id;
    const account = await http.get('/account');
    const accountHtml = await account.text();
    const renamed = await http.request('POST', '/account/passkeys/rename', { form: { csrf: csrfTokenOf(accountHtml), passkey: id, name: `"' autofocus onfocus="alert(1)` } });
    assert.equal(renamed.status, 303);
    pages.push(await (await http.get('/account')).text());
    // The logout confirmation names the client.
    pages.push(await (await http.get(`/session/end?client_id=${rp.clientMetadata().client_id}`)).text());

    for (const html of pages) {
      const found = html.match(/<script>alert|<img src=x|onfocus="alert/);
      assert.equal(found, null, `no markup from input: ${found?.[0]} in ${html.slice(Math.max(0, found?.index ?? 0) - 200, (found?.index ?? 0) + 100)}`);
      assert.doesNotMatch(html, /\b49\b|o'neil/, 'template syntax is data, quotes are escaped');
    }
    assert.ok(pages.filter((html) => html.includes('o&#39;neil&amp;{{7*7}}{%raw%}@example.com')).length >= 4, 'the email is shown, escaped');
    assert.ok(pages.filter((html) => html.includes('&lt;script&gt;alert(&quot;client&quot;)&lt;/script&gt;')).length >= 3, 'the client name is shown, escaped');
    assert.match(pages.at(-2)!, /value="&quot;&#39; autofocus onfocus=&quot;alert\(1\)"/, 'the passkey name is escaped inside its attribute');
  });

  it('never links a client URI that is not https, and refuses script and plain-http URIs at registration', async () => {
    const register = (metadata: Record<string, string>) =>
      fetch(server.url('/reg'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${INITIAL_ACCESS_TOKEN}` },
        body: JSON.stringify({ redirect_uris: [REDIRECT_URI], ...metadata }),
      });
    for (const field of ['logo_uri', 'policy_uri', 'tos_uri', 'client_uri']) {
      const response = await register({ [field]: 'javascript:alert(document.cookie)' });
      assert.equal(response.status, 400, field);
      assert.equal(((await response.json()) as { error: string }).error, 'invalid_client_metadata', field);
    }
    // The pages link policy and terms and load logos: plain http would be a downgrade (and mixed content).
    for (const field of ['logo_uri', 'policy_uri', 'tos_uri']) {
      const response = await register({ [field]: 'http://app.example.com/x' });
      assert.equal(response.status, 400, field);
      assert.match(((await response.json()) as { error_description: string }).error_description, new RegExp(`${field} must be an https URL`));
    }
    const plain = await registerRelyingParty(server, {
      client_name: 'Plain',
      logo_uri: 'https://app.example.com/logo.png',
      tos_uri: 'https://app.example.com/terms?a=1&b="><script>alert(1)</script>',
    });
    const http = new HttpClient(server.issuer);
    const page = await openInteraction(http, (await authorizationRequest(plain)).url.href);
    assert.doesNotMatch(page.html, /logo\.png/, 'a logo from a host nobody allowed is never shown');
    assert.doesNotMatch(page.html, /<script>alert/);
    assert.match(page.html, /href="https:\/\/app\.example\.com\/terms\?a=1&amp;b=&quot;&gt;&lt;script&gt;alert\(1\)&lt;\/script&gt;"/);
  });

  it('sends security headers on every response, HTML pages above all', async () => {
    const { browser, authenticator } = await signedIn('headers@example.com');
    const http = new HttpClient(server.issuer);
    // Sign-up pages, a wrong code, consent.
    const { page } = await newPage({}, http);
    await http.get(`/interaction/${page.uid}/signup`);
    await postForm(http, page, '/signup', { email: 'tour@example.com' });
    await http.get(`/interaction/${page.uid}/signup/code?email=tour%40example.com`);
    await postForm(http, page, '/signup/code', { code: 'nope' });
    await postForm(http, page, '/signup/code', { code: server.mailbox.lastCode('tour@example.com') });
    await http.get(`/interaction/${page.uid}/signup/passkey`);
    const options = await (await postJson(http, page, '/signup/passkey/options', {})).json();
    const created = await postJson(http, page, '/signup/passkey/verify', new SoftwareAuthenticator({ origin: server.issuer }).createCredential(options));
    await finishAtApplication(http, ((await created.json()) as { redirectTo: string }).redirectTo);
    // Recovery pages, in a browser nobody signed in to.
    const other = new HttpClient(server.issuer);
    const recovery = await newPage({}, other);
    await other.get(`/interaction/${recovery.page.uid}/recovery`);
    await postForm(other, recovery.page, '/recovery', { email: 'headers@example.com' });
    await other.get(`/interaction/${recovery.page.uid}/recovery/code`);
    await other.get(`/interaction/${recovery.page.uid}/recovery/passkey`);
    // Error pages: Latchkey's, oidc-provider's, a refused POST, an unknown path.
    await other.get('/interaction/does-not-exist');
    await other.get('/auth?client_id=unknown');
    await other.request('POST', `/interaction/${recovery.page.uid}/abort`, { form: {} });
    await other.get('/no-such-page');
    await other.get('/.well-known/openid-configuration');
    await other.get('/assets/style.css');
    // The step-up page, the account pages, logout and its result page.
    await browser.follow((await authorizationRequest(rp, { prompt: 'login' })).url.href);
    await browser.get('/account');
    await browser.get('/account/signed-out');
    await browser.get('/account/callback?state=forged');
    const logout = await browser.get(`/session/end?client_id=${rp.clientMetadata().client_id}`);
    const xsrf = (await logout.text()).match(/name="xsrf" value="([^"]+)"/)![1]!;
    const done = await browser.request('POST', '/session/end/confirm', { form: { xsrf, logout: 'yes' } });
    await browser.follow(new URL(done.headers.get('location')!, server.issuer).href);
    void authenticator;

    const seen = [...http.seen, ...other.seen, ...browser.seen];
    for (const response of seen) assertSecurityHeaders(response, `${response.method} ${response.url} (${response.status})`);
    const html = seen.filter((r) => /text\/html/.test(r.headers.get('content-type') ?? ''));
    const paths = new Set(html.map((r) => new URL(r.url).pathname.replace(/\/interaction\/[^/]+/, '/interaction/:uid')));
    for (const expected of [
      '/interaction/:uid',
      '/interaction/:uid/signup',
      '/interaction/:uid/signup/code',
      '/interaction/:uid/signup/passkey',
      '/interaction/:uid/recovery',
      '/interaction/:uid/recovery/code',
      '/interaction/:uid/abort',
      '/auth',
      '/account',
      '/account/signed-out',
      '/account/callback',
      '/session/end',
      '/session/end/success',
    ]) {
      assert.ok(paths.has(expected), `an HTML page at ${expected} was checked (saw ${[...paths].join(', ')})`);
    }
    for (const response of html) {
      assert.match(response.headers.get('content-type')!, /charset=utf-8/i, response.url);
      assert.equal(response.headers.get('strict-transport-security'), null, 'no HSTS on a plain-http issuer');
    }
  });

  it('sends HSTS when the issuer is https', async () => {
    const secure = await startLatchkey({ env: { LATCHKEY_ISSUER: 'https://localhost:{PORT}', LATCHKEY_TRUST_PROXY: 'true' } });
    try {
      const response = await fetch(`http://localhost:${secure.port}/.well-known/openid-configuration`, { headers: { 'x-forwarded-proto': 'https' } });
      assert.match(response.headers.get('strict-transport-security') ?? '', /max-age=31536000/);
      await response.body?.cancel();
    } finally {
      await secure.close();
    }
  });

  it('sets HttpOnly, SameSite cookies', async () => {
    const { browser } = await signedIn('cookies@example.com');
    await browser.get('/account');
    const cookies = browser.seen.flatMap((r) => r.headers.getSetCookie());
    const names = new Set(cookies.map((c) => c.split('=')[0]));
    for (const name of ['_interaction', '_interaction_resume', '_session', 'latchkey.csrf']) assert.ok(names.has(name), `saw ${name}`);
    for (const cookie of cookies) {
      assert.match(cookie, /;\s*httponly/i, cookie);
      assert.match(cookie, /;\s*samesite=(lax|strict)/i, cookie);
      if (cookie.startsWith('latchkey.csrf=')) assert.match(cookie, /samesite=strict/i);
    }
    const interaction = cookies.find((c) => c.startsWith('_interaction='))!;
    assert.match(interaction, /path=\/interaction\//i);
  });

  it('refuses an interaction URL that does not match the browser’s interaction cookie', async () => {
    const a = await newPage();
    const b = await newPage();
    // Browser A asks for B's interaction: its cookie is not for that uid.
    const response = await a.http.get(`/interaction/${b.page.uid}`);
    assert.equal(response.status, 400);
    assert.match(await response.text(), /interaction_not_found/);
    const post = await a.http.request('POST', `/interaction/${b.page.uid}/passkey/options`, { body: {}, headers: { 'x-csrf-token': a.page.csrf } });
    assert.equal(post.status, 400);
    assert.equal(((await post.json()) as { code: string }).code, 'interaction_not_found');
    assert.equal((await server.db('webauthn_challenges').where({ interaction_uid: b.page.uid })).length, 0, 'no challenge was issued');
    // A client that sends its own interaction cookie to B's URL anyway (no browser path scoping) is refused too.
    for (const name of ['_interaction', '_interaction.sig']) a.http.setCookie(name, a.http.cookieValue(name)!, `/interaction/${b.page.uid}`);
    const forced = await a.http.get(`/interaction/${b.page.uid}`);
    assert.equal(forced.status, 400);
    assert.match(await forced.text(), /interaction_not_found/);
    const forcedPost = await a.http.request('POST', `/interaction/${b.page.uid}/passkey/options`, { body: {}, headers: { 'x-csrf-token': a.page.csrf } });
    assert.equal(forcedPost.status, 400);
    assert.equal(((await forcedPost.json()) as { code: string }).code, 'interaction_not_found');
    assert.equal((await server.db('webauthn_challenges').whereIn('interaction_uid', [a.page.uid, b.page.uid])).length, 0, 'no challenge was issued');
  });

  it('rotates the session id at sign-in: the id from before is dead', async () => {
    const authenticator = new SoftwareAuthenticator({ origin: server.issuer });
    const http = new HttpClient(server.issuer);
    const { page } = await newPage({}, http);
    assert.equal(http.cookieValue('_session'), undefined, 'no session before anyone signs in');
    await finishAtApplication(http, await signUp(http, server, authenticator, page, 'rotate@example.com'));
    const before = http.cookieValue('_session');
    assert.ok(before, 'signed up: a session');
    // The same browser signs in again with the passkey.
    const again = await newPage({ prompt: 'login' }, http);
    const verified = await postJson(http, again.page, '/passkey/verify', authenticator.getAssertion(await (await postJson(http, again.page, '/passkey/options', {})).json()));
    assert.equal(verified.status, 200);
    await finishAtApplication(http, ((await verified.json()) as { redirectTo: string }).redirectTo);
    const afterwards = http.cookieValue('_session');
    assert.ok(afterwards);
    assert.notEqual(afterwards, before, 'a new session id');
    assert.equal(await server.db('oidc_payloads').where({ model: 'Session', id: before }).first(), undefined, 'the old id is gone');
    // Whoever kept the old cookie is not signed in.
    const thief = new HttpClient(server.issuer);
    thief.setCookie('_session', before!);
    thief.setCookie('_session.sig', 'x');
    const silent = await thief.follow((await authorizationRequest(rp, { prompt: 'none' })).url.href);
    assert.equal(new URL(silent.url).searchParams.get('error'), 'login_required');
  });

  it('does not adopt a planted session cookie', async () => {
    const authenticator = new SoftwareAuthenticator({ origin: server.issuer });
    const http = new HttpClient(server.issuer);
    http.setCookie('_session', 'attacker-chosen-session-id-0123456789abcdef');
    await finishAtApplication(http, await signUp(http, server, authenticator, (await newPage({}, http)).page, 'fixation@example.com'));
    assert.notEqual(http.cookieValue('_session'), 'attacker-chosen-session-id-0123456789abcdef');
    assert.equal(await server.db('oidc_payloads').where({ model: 'Session', id: 'attacker-chosen-session-id-0123456789abcdef' }).first(), undefined);
  });

  it('has no open redirect through any return-to parameter', async () => {
    const evil = 'https://evil.example/steal';
    const bait = new URLSearchParams({ return_to: evil, returnTo: evil, next: evil, redirect: evil, redirect_uri: evil, url: evil, continue: evil, back: evil }).toString();
    const { browser } = await signedIn('redirects@example.com');
    const stranger = new HttpClient(server.issuer);
    const { page } = await newPage({}, stranger);
    // Signed out and signed in, GET and POST, Latchkey's pages and the account page.
    await stranger.get(`/account?${bait}`);
    await stranger.get(`/account/reauth?${bait}`);
    await stranger.get(`/account/callback?state=x&${bait}`);
    await stranger.get(`/account/signed-out?${bait}`);
    await stranger.get(`/interaction/${page.uid}?${bait}`);
    await stranger.get(`/interaction/${page.uid}/signup/passkey?${bait}`);
    await stranger.request('POST', `/interaction/${page.uid}/signup?${bait}`, { form: { csrf: page.csrf, email: 'victim@evil.example', return_to: evil } });
    await stranger.request('POST', `/interaction/${page.uid}/signup/code?${bait}`, { form: { csrf: page.csrf, code: '123456', return_to: evil } });
    for (const path of ['//evil.example/%2e%2e', '/\\evil.example', '/%2F%2Fevil.example', '/account/..%2F..%2F%2Fevil.example']) {
      const response = await rawGet(server.port, path, { host: `localhost:${server.port}` });
      assert.ok(response.location === undefined || (response.location.startsWith('/') && !/^\/[\\/]/.test(response.location)), `${path} → ${response.location}`);
    }
    await browser.get(`/account?${bait}`);
    await browser.get(`/account/reauth?${bait}`);
    const { csrf } = { csrf: csrfTokenOf(await (await browser.get('/account')).text()) };
    for (const path of ['/account/passkeys/rename', '/account/passkeys/remove', '/account/sessions/end', '/account/grants/revoke']) {
      await browser.request('POST', `${path}?${bait}`, { form: { csrf, passkey: 'x', name: 'n', session: 'x', client: 'x', return_to: evil, next: evil } });
    }
    const seen = [...stranger.seen, ...browser.seen];
    assert.ok(seen.some((r) => r.headers.get('location') !== null), 'some of these redirect');
    for (const response of seen) assertSafeLocation(response, server.issuer, [REDIRECT_URI]);
    // The account page's sign-in goes through /auth with its own fixed redirect URI.
    const started = stranger.seen.find((r) => r.url.includes('/account?'))!;
    const auth = new URL(started.headers.get('location')!, server.issuer);
    assert.equal(auth.searchParams.get('redirect_uri'), `${server.issuer}/account/callback`);
  });

  it('pins the host: a forged Host or X-Forwarded-Host never reaches discovery or a redirect', async () => {
    const discovery = await rawGet(server.port, '/.well-known/openid-configuration', { host: 'evil.example' });
    assert.equal(discovery.status, 200);
    const metadata = JSON.parse(discovery.body) as Record<string, unknown>;
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value === 'string' && /^https?:/.test(value)) assert.ok(value.startsWith(server.issuer), `${key}: ${value}`);
    }
    const proxied = await startLatchkey({ env: { LATCHKEY_TRUST_PROXY: 'true' } });
    try {
      const viaProxy = await rawGet(proxied.port, '/.well-known/openid-configuration', { host: `localhost:${proxied.port}`, 'x-forwarded-host': 'evil.example' });
      assert.ok(String((JSON.parse(viaProxy.body) as { authorization_endpoint: string }).authorization_endpoint).startsWith(proxied.issuer));
      // A whole sign-up through a proxy that passes a client's X-Forwarded-Host on: every hop stays on the issuer.
      const proxiedRp = await registerRelyingParty(proxied);
      const http = new HttpClient(proxied.issuer, { headers: { 'x-forwarded-host': 'evil.example' } });
      const page = await openInteraction(http, (await authorizationRequest(proxiedRp)).url.href);
      const next = await signUp(http, proxied, new SoftwareAuthenticator({ origin: proxied.issuer }), page, 'host@example.com');
      assert.ok(next.startsWith(proxied.issuer), `redirectTo ${next}`);
      await finishAtApplication(http, next);
      for (const response of http.seen) assertSafeLocation(response, proxied.issuer, [REDIRECT_URI]);
    } finally {
      await proxied.close();
    }
  });
});

describe('cookies behind a TLS-terminating proxy', () => {
  let server: TestServer;
  const clientId = 'proxied-app';

  before(async () => {
    server = await startLatchkey({
      env: { LATCHKEY_ISSUER: 'https://localhost:{PORT}', LATCHKEY_TRUST_PROXY: 'true' },
      clients: [{ client_id: clientId, client_name: 'Proxied', token_endpoint_auth_method: 'none', redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code'], response_types: ['code'] }],
    });
  });
  after(() => server.close());

  it('marks every cookie Secure (and HttpOnly, SameSite) when the proxy says https', async () => {
    // The browser talks https to the proxy; the proxy talks http to Latchkey and says so.
    const http = new HttpClient(server.issuer, { connectTo: `http://localhost:${server.port}`, headers: { 'x-forwarded-proto': 'https' } });
    const authorize = `/auth?${new URLSearchParams({ client_id: clientId, response_type: 'code', scope: 'openid', redirect_uri: REDIRECT_URI, code_challenge: 'a'.repeat(43), code_challenge_method: 'S256', state: 's' })}`;
    const page = await openInteraction(http, authorize);
    const landed = await finishAtApplication(http, await signUp(http, server, new SoftwareAuthenticator({ origin: server.issuer }), page, 'secure@example.com'));
    assert.ok(new URL(landed).searchParams.get('code'));
    await http.get('/account');
    await http.get('/account/reauth');
    const cookies = http.seen.flatMap((r) => r.headers.getSetCookie());
    const names = new Set(cookies.map((c) => c.split('=')[0]));
    for (const name of ['_interaction', '_interaction_resume', '_session', 'latchkey.csrf', 'latchkey.account.signin']) assert.ok(names.has(name), `saw ${name} (${[...names].join(', ')})`);
    for (const cookie of cookies) {
      assert.match(cookie, /;\s*secure/i, cookie);
      assert.match(cookie, /;\s*httponly/i, cookie);
      assert.match(cookie, /;\s*samesite=(lax|strict)/i, cookie);
    }
    for (const response of http.seen) assert.match(response.headers.get('strict-transport-security') ?? '', /max-age=31536000/, response.url);
  });
});
