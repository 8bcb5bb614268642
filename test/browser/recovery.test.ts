/**
 * "Lost your passkey?" in a real browser: headless Chromium with a virtual WebAuthn
 * authenticator per tab, Latchkey on 127.0.0.1 (issuer http://localhost:PORT), and a relying
 * party whose callback the browser really lands on. The person's only passkey stays behind in a
 * closed browser profile; a new device gets them back in with a code mailed to their verified
 * address. Pages are driven only by roles and accessible names.
 *
 * Run: node --import tsx --test test/browser/recovery.test.ts
 * (CHROMIUM_PATH overrides /usr/bin/chromium.)
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type * as oidc from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import type { TestServer } from '../helpers/app.ts';
import { authorizationRequest, redeem, type AuthorizationRequest } from '../helpers/rp.ts';
import {
  addCredentials,
  addVirtualAuthenticator,
  browserUnavailable,
  type CallbackServer,
  expectPage,
  expectSignInPage,
  finishAtApplication,
  Profiles,
  signUp,
  startBrowserSuite,
  stopBrowserSuite,
  waitForApplication,
} from './helpers.ts';

const TEST_TIMEOUT = 20_000;

const ACR_OTP = 'urn:latchkey:acr:otp';

describe('recovery of a lost passkey in the browser', { skip: browserUnavailable }, () => {
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

  const freshContext = () => profiles.fresh();

  function newRequest(params: Record<string, string> = {}): Promise<AuthorizationRequest> {
    return authorizationRequest(rp, { redirect_uri: app.redirectUri, ...params });
  }

  /** The passkeys the server keeps for the account, as credential ids in CDP's base64. */
  async function storedCredentialIds(accountId: string): Promise<string[]> {
    const rows: { id: string }[] = await server.db('passkeys').where({ account_id: accountId }).select('id');
    return rows.map((row) => Buffer.from(row.id, 'base64url').toString('base64')).sort();
  }

  /** Signs up with one authenticator, in a profile that is then closed: that passkey is lost. */
  async function signUpAndLosePasskey(email: string) {
    const context = await freshContext();
    const page = await context.newPage();
    const authenticator = await addVirtualAuthenticator(page);
    const request = await newRequest();
    await page.goto(request.url.href);
    const claims = (await redeem(rp, request, (await signUp(page, server, app, email)).href)).claims()!;
    const [lost, ...others] = await authenticator.credentials();
    assert.ok(lost);
    assert.equal(others.length, 0);
    await context.close();
    return { sub: claims.sub, lost };
  }

  /**
   * "Lost your passkey?" from the sign-in page, as a person does it: email, the mailed code,
   * "Create a new passkey". Stops once the passkey request has been made.
   */
  async function recoverUntilPasskey(page: Page, email: string): Promise<void> {
    await expectSignInPage(page, server);
    await page.getByRole('link', { name: 'Lost your passkey?' }).click();
    await expectPage(page, 'Lost your passkey?');
    await page.getByLabel('Email').fill(email);
    await page.getByRole('button', { name: 'Send code' }).click();
    await expectPage(page, 'Check your email');
    await page.getByLabel('Code').fill(server.mailbox.lastCode(email));
    await page.getByRole('button', { name: 'Confirm email' }).click();
    await expectPage(page, 'Create a new passkey');
    await page.getByRole('button', { name: 'Create a new passkey' }).click();
  }

  it('recovers with a mailed code on a new device, at the email-code level; the new passkey then signs in at phrh', { timeout: TEST_TIMEOUT }, async () => {
    const email = 'lost@example.com';
    const { sub, lost } = await signUpAndLosePasskey(email);

    // A new device: a fresh profile with a new, empty authenticator.
    const context = await freshContext();
    const page = await context.newPage();
    const authenticator = await addVirtualAuthenticator(page);
    assert.deepEqual(await authenticator.credentials(), []);
    const request = await newRequest();
    await page.goto(request.url.href);
    const mailsBefore = server.mailbox.sent.length;
    await recoverUntilPasskey(page, email);
    const { url: callback } = await finishAtApplication(page, app);

    const claims = (await redeem(rp, request, callback.href)).claims()!;
    assert.equal(claims.sub, sub, 'the same account');
    assert.equal(claims.acr, ACR_OTP, 'the recovered session stands on the emailed code');
    assert.deepEqual(claims.amr, ['otp']);

    // The new passkey belongs to the same account (same user handle) and sits beside the lost one.
    const [replacement, ...others] = await authenticator.credentials();
    assert.ok(replacement);
    assert.equal(others.length, 0);
    assert.notEqual(replacement.credentialId, lost.credentialId);
    assert.equal(replacement.userHandle, lost.userHandle, 'the account’s user handle');
    assert.equal(replacement.rpId, 'localhost');
    assert.deepEqual(await storedCredentialIds(sub), [lost.credentialId, replacement.credentialId].sort());

    // Mail: the code, then the notice that a new passkey was added; both to the verified address only.
    const mails = server.mailbox.sent.slice(mailsBefore);
    assert.deepEqual(mails.map((mail) => mail.to), [email, email]);
    assert.match(mails[0]!.text, /\b\d{6}\b/, 'the code');
    assert.match(mails[1]!.subject, /new passkey was added/);
    assert.doesNotMatch(mails[1]!.text, /\b\d{6}\b/, 'the notice carries no code');

    // Signed out: a fresh profile on yet another device, holding only the new passkey.
    const later = await freshContext();
    const laterPage = await later.newPage();
    await addCredentials(await addVirtualAuthenticator(laterPage), await authenticator.credentials());
    const signIn = await newRequest();
    await laterPage.goto(signIn.url.href);
    await expectSignInPage(laterPage, server);
    const beforeClick = Math.floor(Date.now() / 1000);
    await laterPage.getByRole('button', { name: 'Sign in with a passkey' }).click();
    const { url: signedInAt } = await finishAtApplication(laterPage, app);

    const signedIn = (await redeem(rp, signIn, signedInAt.href)).claims()!;
    assert.equal(signedIn.sub, sub);
    assert.equal(signedIn.acr, 'phrh');
    assert.deepEqual(signedIn.amr, ['pop', 'hwk', 'user', 'mfa']);
    assert.ok((signedIn.auth_time as number) >= beforeClick);
  });

  it('the recovered session does not meet phr until the new passkey is used on the step-up page', { timeout: TEST_TIMEOUT }, async () => {
    const email = 'forgetful@example.com';
    const { sub } = await signUpAndLosePasskey(email);

    const context = await freshContext();
    const page = await context.newPage();
    await addVirtualAuthenticator(page);
    const recovery = await newRequest();
    await page.goto(recovery.url.href);
    await recoverUntilPasskey(page, email);
    const { url: recovered } = await finishAtApplication(page, app);
    assert.equal((await redeem(rp, recovery, recovered.href)).claims()!.acr, ACR_OTP);

    // The application asks for phr: the emailed code is not enough, so the step-up page is shown.
    const request = await newRequest({ acr_values: 'phr' });
    await page.goto(request.url.href);
    await expectPage(page, 'Confirm it’s you');
    const beforeClick = Math.floor(Date.now() / 1000);
    await page.getByRole('button', { name: 'Confirm with a passkey' }).click();
    const callback = await waitForApplication(page, app);

    const claims = (await redeem(rp, request, callback.href)).claims()!;
    assert.equal(claims.sub, sub);
    assert.equal(claims.acr, 'phrh', 'the acr actually reached with the new device-bound passkey');
    assert.deepEqual(claims.amr, ['pop', 'hwk', 'user', 'mfa']);
    assert.ok((claims.auth_time as number) >= beforeClick);
  });
});
