import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as oidc from 'openid-client';
import { api, apiClient, apiToken, assertProblem, cibaClient } from '../helpers/api.ts';
import { startLatchkey, type TestServer } from '../helpers/app.ts';
import { openInteraction, postForm } from '../helpers/flows.ts';
import { HttpClient } from '../helpers/http.ts';
import { authorizationRequest, registerRelyingParty } from '../helpers/rp.ts';

describe('hosted pages in the person’s language', () => {
  let server: TestServer;
  let rp: oidc.Configuration;

  before(async () => {
    server = await startLatchkey();
    rp = await registerRelyingParty(server);
  });
  after(() => server.close());

  async function signInPage(params: Record<string, string>, headers: Record<string, string> = {}) {
    const http = new HttpClient(server.issuer, { headers });
    const request = await authorizationRequest(rp, params);
    return { http, page: await openInteraction(http, request.url.href) };
  }

  it('advertises the languages in discovery (ui_locales_supported)', async () => {
    const discovery = (await (await fetch(server.url('/.well-known/openid-configuration'))).json()) as Record<string, unknown>;
    assert.deepEqual(discovery.ui_locales_supported, ['en', 'de', 'es']);
  });

  it('speaks German when the application asks with ui_locales=de, whatever the browser prefers', async () => {
    const { page } = await signInPage({ ui_locales: 'de' }, { 'accept-language': 'es' });
    assert.match(page.html, /<html lang="de">/);
    assert.match(page.html, /<h1 id="page-title">Anmelden<\/h1>/);
    assert.match(page.html, />Mit Passkey anmelden</);
    assert.match(page.html, /<title>Bei Test App anmelden · Latchkey<\/title>/);
    // The page script's sentences come in the same language.
    assert.match(page.html, /<script type="application\/json" id="latchkey-messages">\{[^<]*"signingIn":"Sie werden angemeldet …"/);
  });

  it('skips ui_locales it does not speak, taking the next one', async () => {
    const { page } = await signInPage({ ui_locales: 'fr-CA es' });
    assert.match(page.html, /<html lang="es">/);
  });

  it('follows Accept-Language with q-values when the application names no language', async () => {
    const { page } = await signInPage({}, { 'accept-language': 'es-MX,es;q=0.9' });
    assert.match(page.html, /<html lang="es">/);
    assert.match(page.html, /<h1 id="page-title">Iniciar sesión<\/h1>/);
    assert.match(page.html, /Iniciar sesión con una llave de acceso/);
  });

  it('names its own account page in the page’s language', async () => {
    for (const [language, name] of [['de', 'Latchkey-Konto'], ['es', 'Cuenta de Latchkey'], ['en', 'Latchkey account']]) {
      const http = new HttpClient(server.issuer, { headers: { 'accept-language': language } });
      const page = await openInteraction(http, server.url('/account'));
      assert.match(page.html, new RegExp(`<html lang="${language}">`));
      assert.ok(page.html.includes(name), `${language}: ${name}`);
      if (language !== 'en') assert.ok(!page.html.includes('Latchkey account'), `${language}: not the registration's English name`);
    }
  });

  it('falls back to English for a language it does not speak', async () => {
    const { page } = await signInPage({}, { 'accept-language': 'fr-FR, it;q=0.8' });
    assert.match(page.html, /<html lang="en">/);
    assert.match(page.html, /<h1 id="page-title">Sign in<\/h1>/);
  });

  it('keeps the language through sign-up and into errors shown on the page', async () => {
    const { http, page } = await signInPage({ ui_locales: 'de' });
    const start = await http.get(`/interaction/${page.uid}/signup`);
    assert.match(await start.text(), /<h1 id="page-title">Konto erstellen<\/h1>/);
    await postForm(http, page, '/signup', { email: 'wrong-code@example.com' });
    const wrong = await postForm(http, page, '/signup/code', { code: '000000', email: 'wrong-code@example.com' });
    assert.equal(wrong.status, 400);
    const html = await wrong.text();
    assert.match(html, /<html lang="de">/);
    assert.match(html, /Dieser Code stimmt nicht\./);
  });

  it('shows error pages in the browser’s language, with the stable code', async () => {
    const response = await fetch(server.url('/interaction/unknown-uid'), { headers: { 'accept-language': 'de-AT' } });
    const html = await response.text();
    assert.match(html, /<html lang="de">/);
    assert.match(html, /Etwas ist schiefgelaufen/);
    assert.match(html, /<code>interaction_not_found<\/code>/);
  });
});

describe('mails in the language of the page that sent them', () => {
  let server: TestServer;
  let rp: oidc.Configuration;

  before(async () => {
    server = await startLatchkey({ env: { LATCHKEY_DEFAULT_LOCALE: 'es' } });
    rp = await registerRelyingParty(server);
  });
  after(() => server.close());

  it('sends a German sign-up code for a German sign-up', async () => {
    const http = new HttpClient(server.issuer);
    const page = await openInteraction(http, (await authorizationRequest(rp, { ui_locales: 'de' })).url.href);
    await postForm(http, page, '/signup', { email: 'greta@example.com' });
    const mail = server.mailbox.sent.find((m) => m.to === 'greta@example.com')!;
    assert.match(mail.subject, /^\d{6} ist Ihr Code für Latchkey$/);
    assert.match(mail.text, /Ihr Code für Latchkey lautet: \d{6}/);
    assert.match(mail.text, /Er ist 10 Minuten gültig\./);
    assert.match(mail.text, /— Latchkey/);
  });

  it('uses the operator’s default language when neither the request nor the browser names one it speaks', async () => {
    const http = new HttpClient(server.issuer, { headers: { 'accept-language': 'fr' } });
    const page = await openInteraction(http, (await authorizationRequest(rp)).url.href);
    assert.match(page.html, /<html lang="es">/);
    await postForm(http, page, '/signup', { email: 'pilar@example.com' });
    const mail = server.mailbox.sent.find((m) => m.to === 'pilar@example.com')!;
    assert.match(mail.subject, /^\d{6} es tu código de Latchkey$/);
  });
});

describe('mails a backend starts, in the language it names', () => {
  const onboarding = { ...apiClient('onboarding', 'users:read users:write enrollments:write'), client_name: 'Acme HR' };
  const bank = cibaClient('bank');
  let server: TestServer;
  let token: string;

  before(async () => {
    server = await startLatchkey({ clients: [onboarding, bank] });
    token = await apiToken(server, onboarding, 'users:read users:write enrollments:write');
  });
  after(() => server.close());

  async function newUser(email: string): Promise<string> {
    const created = await api(server, token, 'POST', '/users', { email, email_verified: true });
    return ((await created.json()) as { id: string }).id;
  }

  it('mails an enrollment link in the `locale` of the API request, and the default without one', async () => {
    const spanish = await newUser('lucia@example.com');
    assert.equal((await api(server, token, 'POST', `/users/${spanish}/enrollment-links`, { send_email: true, locale: 'es-MX' })).status, 201);
    const mail = server.mailbox.sent.find((m) => m.to === 'lucia@example.com')!;
    assert.equal(mail.subject, 'Acme HR te invita a crear una llave de acceso');
    assert.match(mail.text, /hasta el .+ UTC\./);

    const english = await newUser('ed@example.com');
    assert.equal((await api(server, token, 'POST', `/users/${english}/enrollment-links`, { send_email: true })).status, 201);
    assert.equal(server.mailbox.sent.find((m) => m.to === 'ed@example.com')!.subject, 'Acme HR invites you to create a passkey');

    await assertProblem(await api(server, token, 'POST', `/users/${english}/enrollment-links`, { locale: 'not a language' }), 400, 'invalid_request');
  });

  it('mails a backchannel approval in the request’s ui_locales', async () => {
    await newUser('jonas@example.com');
    const response = await fetch(server.url('/backchannel'), {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${bank.client_id}:${bank.client_secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        scope: 'openid',
        login_hint: 'jonas@example.com',
        binding_message: 'Überweisung 1234.50 EUR',
        ui_locales: 'de',
        authorization_details: JSON.stringify([{ type: 'transfer', amount: '1234.50', currency: 'EUR', payee: 'ACME' }]),
      }),
    });
    assert.equal(response.status, 200);
    const mail = server.mailbox.sent.find((m) => m.to === 'jonas@example.com')!;
    assert.equal(mail.subject, 'Example Bank bittet Sie, eine Anfrage zu genehmigen');
    assert.match(mail.text, /Darin steht: „Überweisung 1234.50 EUR“/);
    // The approval page writes the amount the German way; the binding message stays as sent.
    const link = /https?:\/\/\S+\/approve\/\S+/.exec(mail.text)![0];
    const page = await (await fetch(link, { headers: { 'accept-language': 'de' } })).text();
    assert.match(page, /<dt>Betrag:<\/dt> <dd>1\.234,50\u00a0EUR<\/dd>/);
  });
});
