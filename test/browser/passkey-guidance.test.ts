/**
 * What a person is told when a passkey ceremony cannot work, in a real browser: an authenticator
 * that already holds a passkey for the account (excludeCredentials → InvalidStateError), and a
 * browser without WebAuthn at all. Plus the help next to "Create a passkey".
 *
 * Run: node --import tsx --test test/browser/passkey-guidance.test.ts
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type * as oidc from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import type { TestServer } from '../helpers/app.ts';
import { en } from '../../src/i18n/en.ts';
import { es } from '../../src/i18n/es.ts';
import { authorizationRequest } from '../helpers/rp.ts';
import {
  addVirtualAuthenticator,
  alertText,
  browserUnavailable,
  type CallbackServer,
  expectPage,
  expectSignInPage,
  Profiles,
  signUp,
  startBrowserSuite,
  stopBrowserSuite,
} from './helpers.ts';

describe('passkey guidance in the browser', { skip: browserUnavailable }, () => {
  let server: TestServer;
  let app: CallbackServer;
  let rp: oidc.Configuration;
  let browser: Browser;
  const profiles = new Profiles(() => browser);

  before(async () => {
    ({ server, app, rp, browser } = await startBrowserSuite());
  });
  afterEach(() => profiles.closeAll());
  after(async () => {
    await stopBrowserSuite({ server, app, browser });
  });

  async function freshPage(): Promise<Page> {
    return (await profiles.fresh()).newPage();
  }

  const signInUrl = async (params: Record<string, string> = {}) => (await authorizationRequest(rp, { redirect_uri: app.redirectUri, ...params })).url.href;

  it('keeps the passkey button disabled until its script is ready, and says why when scripts are off', async () => {
    const url = await signInUrl();
    const page = await freshPage();
    await page.goto(url);
    await expectPage(page, 'Sign in');
    assert.equal(await page.getByRole('button', { name: 'Sign in with a passkey' }).isEnabled(), true, 'enabled once login.js attached its handler');

    const noScripts = await browser.newContext({ javaScriptEnabled: false });
    try {
      const bare = await noScripts.newPage();
      await bare.goto(url);
      assert.equal(await bare.getByRole('button', { name: 'Sign in with a passkey' }).isDisabled(), true, 'a click could do nothing');
      // (Chromium's script switch does not make the parser show <noscript>: check it is there.)
      assert.match(await bare.content(), /<noscript><p class="status error">Passkeys need JavaScript\./);
    } finally {
      await noScripts.close();
    }
  });

  it('tells a person whose device already holds a passkey for the account to sign in with it', async () => {
    const page = await freshPage();
    await addVirtualAuthenticator(page);
    const email = `twice-${Date.now()}@example.com`;
    await page.goto(await signInUrl());
    await signUp(page, server, app, email);

    // Signed out, the same device goes through "Lost your passkey?": the new passkey's request
    // excludes the one this authenticator already holds, so the browser refuses (InvalidStateError).
    await page.context().clearCookies();
    await page.goto(await signInUrl());
    await expectSignInPage(page, server);
    await page.getByRole('link', { name: 'Lost your passkey?' }).click();
    await expectPage(page, 'Lost your passkey?');
    await page.getByLabel('Email').fill(email);
    await page.getByRole('button', { name: 'Send code' }).click();
    await page.getByLabel('Code').fill(server.mailbox.lastCode(email));
    await page.getByRole('button', { name: 'Confirm email' }).click();
    await expectPage(page, 'Create a new passkey');
    await page.getByRole('button', { name: 'Create a new passkey' }).click();
    assert.equal(await alertText(page), en['js.alreadyRegistered']);
    // The button is back for another try (with another authenticator), and has the focus again.
    assert.equal(await page.getByRole('button', { name: 'Create a new passkey' }).isEnabled(), true);
  });

  it('explains a browser without passkeys and suggests an up-to-date browser or another device', async () => {
    const page = await freshPage();
    await page.addInitScript(() => {
      delete (window as { PublicKeyCredential?: unknown }).PublicKeyCredential;
    });
    await page.goto(await signInUrl());
    await expectSignInPage(page, server);
    assert.equal(await alertText(page), en['js.unsupported']);
    assert.equal(await page.getByRole('button', { name: 'Sign in with a passkey' }).isDisabled(), true);

    // In the person's language too.
    const spanish = await freshPage();
    await spanish.addInitScript(() => {
      delete (window as { PublicKeyCredential?: unknown }).PublicKeyCredential;
    });
    await spanish.goto(await signInUrl({ ui_locales: 'es' }));
    await expectPage(spanish, 'Iniciar sesión');
    assert.equal(await alertText(spanish), es['js.unsupported']);
  });

  it('offers short help next to "Create a passkey"', async () => {
    const page = await freshPage();
    await addVirtualAuthenticator(page);
    await page.goto(await signInUrl());
    await page.getByRole('link', { name: 'Create account' }).click();
    const email = `help-${Date.now()}@example.com`;
    await page.getByLabel('Email').fill(email);
    await page.getByRole('button', { name: 'Send code' }).click();
    await page.getByLabel('Code').fill(server.mailbox.lastCode(email));
    await page.getByRole('button', { name: 'Confirm email' }).click();
    await expectPage(page, 'Create a passkey');
    for (const [question, answer] of [
      ['What is a passkey?', en['help.whereStored']],
      ['Using a computer without a passkey?', en['help.otherComputerText']],
      ['Nothing happened?', en['help.nothingHappenedText']],
    ] as const) {
      const answerText = page.getByText(answer);
      assert.equal(await answerText.isVisible(), false, `${question} starts collapsed`);
      await page.getByText(question, { exact: true }).click();
      assert.equal(await answerText.isVisible(), true, `${question} opens`);
    }
  });
});
