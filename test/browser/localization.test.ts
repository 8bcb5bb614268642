/**
 * The hosted pages in German, as a person whose application asked for German (ui_locales=de)
 * sees them: a complete sign-up, driven by the German accessible names.
 *
 * Run: node --import tsx --test test/browser/localization.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import type { TestServer } from '../helpers/app.ts';
import { authorizationRequest } from '../helpers/rp.ts';
import {
  addVirtualAuthenticator,
  alertText,
  browserUnavailable,
  disablePasskeyAutofill,
  expectPage,
  newContext,
  startBrowserSuite,
  stopBrowserSuite,
  waitForApplication,
  type CallbackServer,
} from './helpers.ts';

describe('hosted pages in German', { skip: browserUnavailable }, () => {
  let server: TestServer;
  let app: CallbackServer;
  let rp: oidc.Configuration;
  let browser: Browser;

  before(async () => {
    ({ server, app, rp, browser } = await startBrowserSuite());
  });
  after(async () => {
    await stopBrowserSuite({ server, app, browser });
  });

  it('signs a person up in German, from the sign-in page to the application', async () => {
    const context = await newContext(browser);
    await disablePasskeyAutofill(context);
    const page = await context.newPage();
    await addVirtualAuthenticator(page);
    const email = `greta-${Date.now()}@example.com`;
    try {
      await page.goto((await authorizationRequest(rp, { redirect_uri: app.redirectUri, ui_locales: 'de' })).url.href);
      await expectPage(page, 'Anmelden');
      assert.equal(await page.getAttribute('html', 'lang'), 'de');

      // The page script speaks German too.
      await page.getByRole('button', { name: 'Weiter mit E-Mail-Adresse' }).click();
      assert.equal(await alertText(page), 'Geben Sie Ihre E-Mail-Adresse ein oder wählen Sie „Mit Passkey anmelden“.');

      await page.getByRole('link', { name: 'Konto erstellen' }).click();
      await expectPage(page, 'Konto erstellen');
      await page.getByLabel('E-Mail-Adresse').fill(email);
      await page.getByRole('button', { name: 'Code senden' }).click();
      await expectPage(page, 'Prüfen Sie Ihre E-Mails');
      const mail = server.mailbox.sent.filter((m) => m.to === email).at(-1)!;
      assert.match(mail.subject, /ist Ihr Code für Latchkey$/);
      await page.getByLabel('Code').fill(server.mailbox.lastCode(email));
      await page.getByRole('button', { name: 'E-Mail-Adresse bestätigen' }).click();
      await expectPage(page, 'Passkey erstellen');
      assert.equal(await page.getAttribute('html', 'lang'), 'de');
      await page.getByRole('button', { name: 'Passkey erstellen' }).click();
      await expectPage(page, 'Test App erlauben?');
      await page.getByRole('button', { name: 'Erlauben' }).click();
      await waitForApplication(page, app);
    } finally {
      await context.close();
    }
  });
});
