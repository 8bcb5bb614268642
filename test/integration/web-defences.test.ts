import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as oidc from 'openid-client';
import { startLatchkey, type TestServer } from '../helpers/app.ts';
import { openInteraction } from '../helpers/flows.ts';
import { HttpClient } from '../helpers/http.ts';
import { authorizationRequest, registerRelyingParty } from '../helpers/rp.ts';

const STATE_CHANGING = [
  ['/signup', 'form'],
  ['/signup/code', 'form'],
  ['/signup/passkey/options', 'json'],
  ['/signup/passkey/verify', 'json'],
  ['/passkey/options', 'json'],
  ['/passkey/verify', 'json'],
  ['/consent', 'form'],
  ['/abort', 'form'],
] as const;

describe('web defences', () => {
  let server: TestServer;
  let rp: oidc.Configuration;

  before(async () => {
    server = await startLatchkey();
    rp = await registerRelyingParty(server, { client_name: '<script>alert("client")</script>' });
  });
  after(() => server.close());

  async function newPage(params: Record<string, string> = {}) {
    const http = new HttpClient(server.issuer);
    return { http, page: await openInteraction(http, (await authorizationRequest(rp, params)).url.href) };
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
        const text = await response.text();
        assert.match(text, /csrf_failed/, label);
      }
      // Nothing was started: no code was mailed, the interaction still waits for sign-in.
      assert.equal(server.mailbox.sent.length, mailsBefore);
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

  it('sends security headers on pages, errors and protocol endpoints', async () => {
    const { http, page } = await newPage();
    const responses = [
      await http.get(`/interaction/${page.uid}`),
      await http.get('/interaction/does-not-exist'),
      await http.get('/auth?client_id=unknown'),
      await http.get('/.well-known/openid-configuration'),
    ];
    for (const response of responses) {
      const csp = response.headers.get('content-security-policy') ?? '';
      assert.match(csp, /script-src 'self'(;|$)/, `CSP on ${response.url}: ${csp}`);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(response.headers.get('referrer-policy'), 'same-origin');
      assert.equal(response.headers.get('x-frame-options'), 'DENY');
      assert.equal(response.headers.get('strict-transport-security'), null, 'no HSTS on a plain-http issuer');
      await response.body?.cancel();
    }
    const pageHtml = await (await http.get(`/interaction/${page.uid}`)).text();
    assert.doesNotMatch(pageHtml, /<script>(?!<\/script>)|<script(?![^>]*\ssrc=)[^>]*>|\son[a-z]+=/i, 'no inline script or handlers');
  });

  it('sends HSTS when the issuer is https', async () => {
    const secure = await startLatchkey({ env: { LATCHKEY_ISSUER: 'https://localhost:{PORT}' } });
    try {
      const response = await fetch(`http://127.0.0.1:${secure.port}/.well-known/openid-configuration`, { headers: { host: `localhost:${secure.port}` } });
      assert.match(response.headers.get('strict-transport-security') ?? '', /max-age=31536000/);
      await response.body?.cancel();
    } finally {
      await secure.close();
    }
  });

  it('sets HttpOnly, SameSite cookies', async () => {
    const request = await authorizationRequest(rp);
    const response = await fetch(request.url, { redirect: 'manual' });
    const cookies = response.headers.getSetCookie();
    const interaction = cookies.find((c) => c.startsWith('_interaction='))!;
    assert.match(interaction, /httponly/i);
    assert.match(interaction, /samesite=lax/i);
    assert.match(interaction, /path=\/interaction\//i);
    const page = await fetch(new URL(response.headers.get('location')!, server.issuer), {
      headers: { cookie: cookies.map((c) => c.split(';')[0]).join('; ') },
    });
    const csrf = page.headers.getSetCookie().find((c) => c.startsWith('latchkey.csrf='))!;
    assert.match(csrf, /httponly/i);
    assert.match(csrf, /samesite=strict/i);
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
  });
});
