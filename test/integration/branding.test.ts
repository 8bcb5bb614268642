/**
 * Operator branding on the hosted pages and in mail: product name, logo (served from a local
 * file, or an https URL the CSP then allows), brand colours as a stylesheet, and the support link.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type * as oidc from 'openid-client';
import { startLatchkey, type TestServer } from '../helpers/app.ts';
import { openInteraction, postForm } from '../helpers/flows.ts';
import { HttpClient } from '../helpers/http.ts';
import { authorizationRequest, registerRelyingParty } from '../helpers/rp.ts';

const SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 10"><rect width="40" height="10" fill="#0a6e3c"/></svg>';

describe('operator branding', () => {
  let server: TestServer;
  let rp: oidc.Configuration;

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-brand-'));
    writeFileSync(join(dir, 'acme.svg'), SVG);
    server = await startLatchkey({
      env: {
        LATCHKEY_PRODUCT_NAME: 'Acme ID',
        LATCHKEY_BRAND_LOGO_URL: join(dir, 'acme.svg'),
        LATCHKEY_BRAND_COLOR: '#0a6e3c',
        LATCHKEY_SUPPORT_URL: 'https://help.acme.example/sign-in',
      },
    });
    rp = await registerRelyingParty(server);
  });
  after(() => server.close());

  it('shows the product name, logo, brand stylesheet and support link on every page', async () => {
    const http = new HttpClient(server.issuer);
    const page = await openInteraction(http, (await authorizationRequest(rp)).url.href);
    assert.match(page.html, /<title>Sign in to Test App · Acme ID<\/title>/);
    assert.match(page.html, /<p class="brand"><img src="\/assets\/brand-logo" alt="" class="brand-logo" height="32"><span>Acme ID<\/span><\/p>/);
    assert.match(page.html, /<link rel="stylesheet" href="\/assets\/brand.css">/);
    assert.match(page.html, /<footer class="site-footer"><a href="https:\/\/help.acme.example\/sign-in" rel="noopener">Help and support<\/a><\/footer>/);
    // An error page outside any sign-in has them too, in the browser's language.
    const error = await (await fetch(server.url('/interaction/nope'), { headers: { 'accept-language': 'es' } })).text();
    assert.match(error, /<span>Acme ID<\/span>/);
    assert.match(error, />Ayuda y asistencia<\/a>/);
  });

  it('serves the logo with its image type and the colours as design tokens', async () => {
    const logo = await fetch(server.url('/assets/brand-logo'));
    assert.equal(logo.status, 200);
    assert.equal(logo.headers.get('content-type'), 'image/svg+xml');
    assert.equal(logo.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(await logo.text(), SVG);
    const css = await fetch(server.url('/assets/brand.css'));
    assert.match(css.headers.get('content-type') ?? '', /^text\/css/);
    const body = await css.text();
    assert.match(body, /:root \{ --accent: #0a6e3c; --accent-text: #ffffff; \}/);
    // Too dark for the dark card: the dark theme keeps its own accent.
    assert.match(body, /prefers-color-scheme: dark\) \{ :root \{ --accent: #7fb0ff;/);
  });

  it('signs every mail with the product name and the support link', async () => {
    const http = new HttpClient(server.issuer);
    const page = await openInteraction(http, (await authorizationRequest(rp)).url.href);
    await postForm(http, page, '/signup', { email: 'branded@example.com' });
    const mail = server.mailbox.sent.find((m) => m.to === 'branded@example.com')!;
    assert.match(mail.subject, /^\d{6} is your Acme ID code$/);
    assert.match(mail.text, /\n\n— Acme ID\nHelp and support: https:\/\/help.acme.example\/sign-in$/);
  });
});

describe('a logo from an https URL', () => {
  let server: TestServer;

  before(async () => {
    server = await startLatchkey({ env: { LATCHKEY_BRAND_LOGO_URL: 'https://cdn.acme.example/logo.png', LATCHKEY_SUPPORT_URL: 'mailto:help@acme.example' } });
  });
  after(() => server.close());

  it('is loaded from there, and the CSP allows images from exactly that origin', async () => {
    const response = await fetch(server.url('/interaction/nope'));
    assert.match(await response.text(), /<img src="https:\/\/cdn.acme.example\/logo.png" alt="" class="brand-logo"/);
    const imgSrc = response.headers.get('content-security-policy')?.match(/img-src ([^;]*)/)?.[1];
    assert.equal(imgSrc, "'self' data: https://cdn.acme.example");
    assert.equal((await fetch(server.url('/assets/brand-logo'))).status, 404);
    assert.equal((await fetch(server.url('/assets/brand.css'))).status, 404);
  });

  it('puts a mailto support address in mails as the address', async () => {
    const rp = await registerRelyingParty(server);
    const http = new HttpClient(server.issuer);
    const page = await openInteraction(http, (await authorizationRequest(rp)).url.href);
    await postForm(http, page, '/signup', { email: 'mailto@example.com' });
    assert.match(server.mailbox.sent.find((m) => m.to === 'mailto@example.com')!.text, /Help and support: help@acme.example$/);
  });
});
