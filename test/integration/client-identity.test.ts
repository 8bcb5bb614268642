/**
 * Every page of a sign-in names the application it is for, and shows its logo only from a host
 * the operator allowed (LATCHKEY_LOGO_HOSTS) or inlined as a small data: image; policy and terms
 * links on every page; the CSP loads images from exactly those hosts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ClientMetadata } from 'oidc-provider';
import { readClientsFile } from '../../src/config/clients-file.ts';
import { ConfigError } from '../../src/config/env.ts';
import { api, apiClient, apiToken, cibaClient } from '../helpers/api.ts';
import { INITIAL_ACCESS_TOKEN, startLatchkey, type TestServer } from '../helpers/app.ts';
import { finishAtApplication, openInteraction, postForm, signUp } from '../helpers/flows.ts';
import { csrfTokenOf, HttpClient } from '../helpers/http.ts';
import { SoftwareAuthenticator } from '../helpers/authenticator.ts';
import { authorizationRequest, REDIRECT_URI, registerRelyingParty } from '../helpers/rp.ts';

const PNG_DATA_URI = `data:image/png;base64,${Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]).toString('base64')}`;
const LINKS = { policy_uri: 'https://app.example.com/privacy', tos_uri: 'https://app.example.com/terms' };

const identity = (html: string) => html.match(/<p class="client-identity">[\s\S]*?<\/p>/)?.[0] ?? '';

describe('the application on every page', () => {
  let server: TestServer;

  before(async () => {
    server = await startLatchkey({ env: { LATCHKEY_LOGO_HOSTS: 'cdn.app.example, static.example.org:8443' } });
  });
  after(() => server.close());

  it('allows images from exactly the allowed logo hosts in the CSP', async () => {
    const response = await fetch(server.url('/.well-known/openid-configuration'));
    const imgSrc = response.headers.get('content-security-policy')?.match(/img-src ([^;]*)/)?.[1];
    assert.equal(imgSrc, "'self' data: https://cdn.app.example https://static.example.org:8443");
  });

  it('names the application, with its allowed logo and its policy and terms links, on every page of a sign-up', async () => {
    const rp = await registerRelyingParty(server, { client_name: 'Shop', logo_uri: 'https://cdn.app.example/shop.png', ...LINKS });
    const http = new HttpClient(server.issuer);
    const page = await openInteraction(http, (await authorizationRequest(rp)).url.href);
    const pages = [page.html];
    pages.push(await (await http.get(`/interaction/${page.uid}/signup`)).text());
    await postForm(http, page, '/signup', { email: 'shopper@example.com' });
    pages.push(await (await http.get(`/interaction/${page.uid}/signup/code?email=shopper%40example.com`)).text());
    pages.push(await (await postForm(http, page, '/signup/code', { code: 'nope', email: 'shopper@example.com' })).text());
    await postForm(http, page, '/signup/code', { code: server.mailbox.lastCode('shopper@example.com') });
    pages.push(await (await http.get(`/interaction/${page.uid}/signup/passkey`)).text());
    pages.push(await (await http.get(`/interaction/${page.uid}/recovery`)).text());
    // An error inside the sign-in (a step not expected now) still names the application.
    pages.push(await (await postForm(http, page, '/consent', {})).text());
    for (const html of pages) {
      assert.match(identity(html), /<img src="https:\/\/cdn.app.example\/shop.png" alt="" class="client-logo" width="40" height="40"><span>Application: <strong>Shop<\/strong><\/span>/);
      assert.match(html, /<a href="https:\/\/app.example.com\/privacy" rel="noopener noreferrer" target="_blank">Shop privacy policy/);
      assert.match(html, /<a href="https:\/\/app.example.com\/terms" rel="noopener noreferrer" target="_blank">Shop terms/);
    }
    assert.match(pages.at(-1)!, /<code>interaction_not_found<\/code>/);
  });

  it('names the application on consent, step-up and logout', async () => {
    const rp = await registerRelyingParty(server, { client_name: 'Shop', logo_uri: 'https://cdn.app.example/shop.png', ...LINKS });
    const http = new HttpClient(server.issuer);
    const authenticator = new SoftwareAuthenticator({ origin: server.issuer });
    const signup = await openInteraction(http, (await authorizationRequest(rp)).url.href);
    const next = await signUp(http, server, authenticator, signup, 'steps@example.com');
    const { response, url } = await http.follow(next);
    const consent = await response.text();
    assert.match(consent, /<h1 id="page-title">Allow Shop\?<\/h1>/);
    assert.match(identity(consent), /shop.png/);
    const allowed = await postForm(http, { uid: new URL(url).pathname.split('/')[2]!, csrf: csrfTokenOf(consent), html: consent }, '/consent', {});
    await finishAtApplication(http, allowed.headers.get('location')!);
    const stepUp = await openInteraction(http, (await authorizationRequest(rp, { prompt: 'login' })).url.href);
    assert.match(stepUp.html, /Confirm it’s you/);
    assert.match(identity(stepUp.html), /Application: <strong>Shop<\/strong>/);
    const logout = await (await http.get(`/session/end?client_id=${encodeURIComponent(rp.clientMetadata().client_id)}`)).text();
    assert.match(logout, /Sign out of Shop\?/);
    assert.match(identity(logout), /Shop/);
  });

  it('shows no logo from a host nobody allowed, nor from plain http, and falls back to the client_id for a name', async () => {
    const rp = await registerRelyingParty(server, { client_name: undefined, logo_uri: 'https://tracker.example.net/pixel.png' });
    const page = await openInteraction(new HttpClient(server.issuer), (await authorizationRequest(rp)).url.href);
    assert.doesNotMatch(page.html, /tracker\.example\.net/);
    assert.doesNotMatch(page.html, /client-logo/);
    assert.match(identity(page.html), new RegExp(`Application: <strong>${rp.clientMetadata().client_id}</strong>`));
    // A subdomain of an allowed host is another host.
    const sub = await registerRelyingParty(server, { logo_uri: 'https://evil.cdn.app.example/x.png' });
    assert.doesNotMatch((await openInteraction(new HttpClient(server.issuer), (await authorizationRequest(sub)).url.href)).html, /client-logo/);
  });

  it('inlines a small data: image logo, and refuses other data: logos at registration', async () => {
    const rp = await registerRelyingParty(server, { client_name: 'Inline', logo_data_uri: PNG_DATA_URI });
    const page = await openInteraction(new HttpClient(server.issuer), (await authorizationRequest(rp)).url.href);
    assert.ok(identity(page.html).includes(`<img src="${PNG_DATA_URI}" alt="" class="client-logo"`));
    for (const logo of [`data:text/html;base64,${Buffer.from('<script>').toString('base64')}`, `data:image/png;base64,${'A'.repeat(33 * 1024)}`, 'https://cdn.app.example/x.png']) {
      const response = await fetch(server.url('/reg'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${INITIAL_ACCESS_TOKEN}` },
        body: JSON.stringify({ redirect_uris: [REDIRECT_URI], logo_data_uri: logo }),
      });
      assert.equal(response.status, 400);
      assert.equal(((await response.json()) as { error: string }).error, 'invalid_client_metadata');
    }
  });
});

describe('the requesting application on approval and enrollment pages', () => {
  const bank: ClientMetadata = {
    ...cibaClient('bank'),
    logo_uri: 'https://cdn.app.example/bank.svg',
    policy_uri: 'https://bank.example/privacy',
  };
  const onboarding = { ...apiClient('onboarding', 'users:read users:write enrollments:write'), client_name: 'Acme HR', logo_uri: 'https://cdn.app.example/hr.png' };
  const tv: ClientMetadata = {
    client_id: 'tv',
    client_name: 'Living Room TV',
    logo_uri: 'https://cdn.app.example/tv.png',
    token_endpoint_auth_method: 'none',
    grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
    response_types: [],
    redirect_uris: [],
  };
  let server: TestServer;
  let token: string;

  before(async () => {
    server = await startLatchkey({ clients: [bank, onboarding, tv], env: { LATCHKEY_LOGO_HOSTS: 'cdn.app.example' } });
    token = await apiToken(server, onboarding, 'users:read users:write enrollments:write');
  });
  after(() => server.close());

  it('names the client on the approval page, with its logo and policy link', async () => {
    await api(server, token, 'POST', '/users', { email: 'payer@example.com', email_verified: true });
    const response = await fetch(server.url('/backchannel'), {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${bank.client_id}:${bank.client_secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ scope: 'openid', login_hint: 'payer@example.com', binding_message: 'Pay 5 EUR' }),
    });
    assert.equal(response.status, 200);
    const link = server.mailbox.sent.find((m) => m.to === 'payer@example.com')!.text.match(/https?:\/\/\S+\/approve\/\S+/)![0];
    const html = await (await fetch(link)).text();
    assert.match(identity(html), /<img src="https:\/\/cdn.app.example\/bank.svg"[^>]*><span>Application: <strong>Example Bank<\/strong>/);
    assert.match(html, /href="https:\/\/bank.example\/privacy"/);
  });

  it('names the device’s application once its code is entered, not before', async () => {
    const started = (await (await fetch(server.url('/device/auth'), { method: 'POST', body: new URLSearchParams({ client_id: 'tv', scope: 'openid' }) })).json()) as { user_code: string };
    const browser = new HttpClient(server.issuer, { headers: { 'accept-language': 'de' } });
    const entry = await (await browser.get('/device')).text();
    assert.doesNotMatch(entry, /client-identity/, 'the code page cannot know the device yet');
    assert.match(entry, /<h1 id="page-title">Gerät verbinden<\/h1>/);
    const xsrf = entry.match(/name="xsrf" value="([^"]+)"/)![1]!;
    const confirm = await (await browser.request('POST', '/device', { form: { xsrf, user_code: started.user_code } })).text();
    assert.match(confirm, /<h1 id="page-title">Living Room TV verbinden\?<\/h1>/);
    assert.match(identity(confirm), /tv.png[^>]*><span>Anwendung: <strong>Living Room TV<\/strong>/);
  });

  it('names the backend’s application on the enrollment page', async () => {
    const user = (await (await api(server, token, 'POST', '/users', { email: 'hire@example.com', email_verified: true })).json()) as { id: string };
    const link = (await (await api(server, token, 'POST', `/users/${user.id}/enrollment-links`, { invited_by: 'Jane at Acme' })).json()) as { url: string };
    const html = await (await fetch(link.url)).text();
    assert.match(identity(html), /hr.png[^>]*><span>Application: <strong>Acme HR<\/strong>/);
    assert.match(html, /You will use it to sign in to <strong>Acme HR<\/strong>\./);
  });
});

describe('client URIs in the clients file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-clients-'));
  const write = (entry: Record<string, unknown>) => {
    const file = join(dir, `${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify([{ client_id: 'app', redirect_uris: [REDIRECT_URI], ...entry }]));
    return file;
  };

  it('carries a data: logo_uri as an inlined logo and refuses anything but https otherwise', () => {
    const [client] = readClientsFile(write({ logo_uri: PNG_DATA_URI, policy_uri: 'https://app.example.com/p' }), {});
    assert.equal(client!.logo_data_uri, PNG_DATA_URI);
    assert.equal(client!.logo_uri, undefined);
    for (const entry of [{ logo_uri: 'http://cdn.example.com/a.png' }, { policy_uri: 'http://app.example.com/p' }, { tos_uri: 'ftp://x' }, { logo_uri: 'data:text/html;base64,PHA+' }]) {
      assert.throws(() => readClientsFile(write(entry), {}), (error: unknown) => error instanceof ConfigError && error.variable === 'LATCHKEY_CLIENTS_FILE');
    }
  });
});

describe('LATCHKEY_LOGO_HOSTS', () => {
  it('takes bare host names only', async () => {
    const { loadConfig } = await import('../../src/config/env.ts');
    assert.deepEqual(loadConfig({ LATCHKEY_LOGO_HOSTS: 'CDN.example.com, img.example.org:8443,' }).logoHosts, ['cdn.example.com', 'img.example.org:8443']);
    for (const bad of ['https://cdn.example.com', '*.example.com', 'cdn.example.com/logos', 'localhost']) {
      assert.throws(() => loadConfig({ LATCHKEY_LOGO_HOSTS: bad }), (error: unknown) => error instanceof ConfigError && error.variable === 'LATCHKEY_LOGO_HOSTS', bad);
    }
  });
});
