/**
 * Passkeys in a real browser: headless Chromium with a virtual WebAuthn authenticator per tab,
 * Latchkey on 127.0.0.1 (issuer http://localhost:PORT), and a relying party whose callback the
 * browser really lands on. Pages are driven only by roles and accessible names.
 *
 * Run: node --import tsx --test test/browser/passkeys.test.ts
 * (CHROMIUM_PATH overrides /usr/bin/chromium.)
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import type { TestServer } from '../helpers/app.ts';
import { authorizationRequest, redeem } from '../helpers/rp.ts';
import {
  addCredentials,
  addVirtualAuthenticator,
  alertText,
  type AuthenticatorOptions,
  browserUnavailable,
  type CallbackServer,
  expectPage,
  expectSignInPage,
  finishAtApplication,
  Profiles,
  signUp,
  signUpUntilPasskey,
  startBrowserSuite,
  stopBrowserSuite,
  waitForApplication,
  watchCredentialRequests,
  type WebAuthnCredential,
} from './helpers.ts';

const TEST_TIMEOUT = 20_000;

const ACR_OTP = 'urn:latchkey:acr:otp';

describe('passkeys in the browser', { skip: browserUnavailable }, () => {
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

  const freshContext = (options: { autofill: boolean }) => profiles.fresh(options);

  function newRequest() {
    return authorizationRequest(rp, { redirect_uri: app.redirectUri });
  }

  async function accountsWithEmail(email: string): Promise<number> {
    const [row] = await server.db('accounts').where({ email }).count({ n: '*' });
    return Number(row?.n);
  }

  async function accountCount(): Promise<number> {
    const [row] = await server.db('accounts').count({ n: '*' });
    return Number(row?.n);
  }

  function reachedApplication(state: string): boolean {
    return app.hits.some((url) => url.searchParams.get('state') === state);
  }

  /**
   * Signs up in a browser profile of its own, which is then closed; returns the new passkey as
   * the authenticator holds it (to copy into another tab) and the first ID token's claims.
   */
  async function signUpElsewhere(email: string, authenticatorOptions: AuthenticatorOptions = {}) {
    const context = await freshContext({ autofill: false });
    const page = await context.newPage();
    const authenticator = await addVirtualAuthenticator(page, authenticatorOptions);
    const request = await newRequest();
    await page.goto(request.url.href);
    const tokens = await redeem(rp, request, (await signUp(page, server, app, email)).href);
    const credentials = await authenticator.credentials();
    assert.equal(credentials.length, 1);
    await context.close();
    return { credentials, claims: tokens.claims()! };
  }

  /** The passkey row as the server stores it (credential ids are base64url there, base64 in CDP). */
  function storedPasskey(credential: WebAuthnCredential) {
    return server
      .db('passkeys')
      .where({ id: Buffer.from(credential.credentialId, 'base64').toString('base64url') })
      .first('device_type', 'counter', 'last_used_at');
  }

  it('signs up in the browser: email, mailed code, a new passkey, consent; the application gets an email-code ID token', { timeout: TEST_TIMEOUT }, async () => {
    const context = await freshContext({ autofill: false });
    const page = await context.newPage();
    const authenticator = await addVirtualAuthenticator(page);
    const email = 'ada@example.com';
    const request = await newRequest();

    await page.goto(request.url.href);
    await expectSignInPage(page, server);
    await signUpUntilPasskey(page, server, email);
    await expectPage(page, 'Allow Test App?');
    await page.getByRole('button', { name: 'Allow' }).click();
    const callback = await waitForApplication(page, app);
    assert.equal(await page.title(), 'Back at Test App');

    const tokens = await redeem(rp, request, callback.href);
    const claims = tokens.claims()!;
    // A passkey that was only just created proves nothing yet: the session stands on the email code.
    assert.equal(claims.acr, ACR_OTP);
    assert.deepEqual(claims.amr, ['otp']);
    assert.equal(typeof claims.auth_time, 'number');
    const userinfo = await oidc.fetchUserInfo(rp, tokens.access_token, claims.sub);
    assert.equal(claims.email ?? userinfo.email, email);
    assert.equal(userinfo.email_verified, true);

    assert.equal(await accountsWithEmail(email), 1);
    const [credential, ...others] = await authenticator.credentials();
    assert.equal(others.length, 0, 'one passkey was created');
    assert.equal(credential!.isResidentCredential, true, 'the passkey is discoverable');
    assert.equal(credential!.rpId, 'localhost');
    assert.equal(credential!.userName, email);
  });

  it('signs out through RP-initiated logout, then signs in again with the passkey at phrh', { timeout: TEST_TIMEOUT }, async () => {
    const context = await freshContext({ autofill: false });
    const page = await context.newPage();
    await addVirtualAuthenticator(page);
    const email = 'grace@example.com';
    const first = await newRequest();
    await page.goto(first.url.href);
    const signedUp = await redeem(rp, first, (await signUp(page, server, app, email)).href);
    const { sub } = signedUp.claims()!;

    // Signed in now: another request goes straight back to the application.
    const silent = await newRequest();
    await page.goto(silent.url.href);
    await waitForApplication(page, app);
    assert.equal((await redeem(rp, silent, page.url())).claims()!.sub, sub);

    await page.goto(oidc.buildEndSessionUrl(rp, { id_token_hint: signedUp.id_token!, post_logout_redirect_uri: app.postLogoutRedirectUri }).href);
    await expectPage(page, 'Sign out of Test App?');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await waitForApplication(page, app, '/signed-out');

    const second = await newRequest();
    await page.goto(second.url.href);
    await expectSignInPage(page, server);
    const beforeClick = Math.floor(Date.now() / 1000);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    // Logging out revokes the session's grants (oidc-provider's default revokeGrantPolicy; only
    // offline_access grants persist), so the consent page may be shown again here.
    const { url: callback } = await finishAtApplication(page, app);

    const claims = (await redeem(rp, second, callback.href)).claims()!;
    assert.equal(claims.sub, sub, 'the passkey signs in the same account');
    assert.equal(claims.acr, 'phrh');
    assert.deepEqual(claims.amr, ['pop', 'hwk', 'user', 'mfa']);
    assert.ok((claims.auth_time as number) >= beforeClick, `auth_time ${claims.auth_time} is the time of this ceremony (>= ${beforeClick})`);
  });

  it('signs in with passkey autofill (conditional mediation) from a fresh browser', { timeout: TEST_TIMEOUT }, async () => {
    const { credentials, claims: signedUp } = await signUpElsewhere('alan@example.com');

    // Autofill stays on in this profile. Every navigator.credentials.get() call is recorded, and
    // a conditional one is held until a field marked `autocomplete="… webauthn"` gets focus.
    //
    // Why the hold: Chromium's virtual authenticator (with automaticPresenceSimulation) answers a
    // conditional request the moment the page makes it, and headless Chromium has no autofill
    // dropdown in which the person would pick the passkey. Without the hold the sign-in completes
    // on page load, before anyone touches the page; with presence simulation off the request
    // stays pending, and turning it on later does not release it. So the init script plays the
    // browser's autofill UI: focusing the Email field offers the passkey, and the page's own
    // conditional request then goes, unchanged, to the virtual authenticator.
    const context = await freshContext({ autofill: true });
    const requests = await watchCredentialRequests(context, { holdConditionalUntilFocus: true });
    const page = await context.newPage();
    await addCredentials(await addVirtualAuthenticator(page), credentials);

    const request = await newRequest();
    await page.goto(request.url.href);
    await expectSignInPage(page, server);
    // The page asks for a passkey by itself, for the autofill, without a click.
    await waitUntil(() => requests.length > 0, 'the page never called navigator.credentials.get()');
    assert.deepEqual(requests, ['conditional']);
    await page.waitForTimeout(300);
    await expectSignInPage(page, server);
    assert.equal(reachedApplication(request.state), false, 'nothing happens before the person focuses the field');

    const beforeFocus = Math.floor(Date.now() / 1000);
    await page.getByLabel('Email').click();
    const callback = await waitForApplication(page, app);
    assert.deepEqual(requests, ['conditional'], 'signed in through the autofill request alone');

    const claims = (await redeem(rp, request, callback.href)).claims()!;
    assert.equal(claims.sub, signedUp.sub);
    assert.equal(claims.acr, 'phrh');
    assert.deepEqual(claims.amr, ['pop', 'hwk', 'user', 'mfa']);
    assert.ok((claims.auth_time as number) >= beforeFocus);
  });

  it('gives a synced passkey phr with amr swk (username-first sign-in)', { timeout: TEST_TIMEOUT }, async () => {
    const synced = { defaultBackupEligibility: true, defaultBackupState: true };
    const email = 'katherine@example.com';
    const { credentials, claims: signedUp } = await signUpElsewhere(email, synced);
    assert.equal(credentials[0]!.backupEligibility, true, 'the virtual authenticator made a backup-eligible credential');
    assert.equal((await storedPasskey(credentials[0]!))?.device_type, 'multiDevice', 'the server stored it as a synced passkey');

    const context = await freshContext({ autofill: false });
    const page = await context.newPage();
    await addCredentials(await addVirtualAuthenticator(page, synced), credentials);
    const request = await newRequest();
    await page.goto(request.url.href);
    await expectSignInPage(page, server);
    await page.getByLabel('Email').fill(email);
    await page.getByRole('button', { name: 'Continue with email' }).click();
    const callback = await waitForApplication(page, app);

    const claims = (await redeem(rp, request, callback.href)).claims()!;
    assert.equal(claims.sub, signedUp.sub);
    assert.equal(claims.acr, 'phr');
    assert.deepEqual(claims.amr, ['pop', 'swk', 'user', 'mfa']);
  });

  it('refuses an authenticator that cannot verify the user: no account, no sign-in', { timeout: TEST_TIMEOUT }, async () => {
    // Sign-up with an authenticator that has no user verification at all.
    const context = await freshContext({ autofill: false });
    const page = await context.newPage();
    const noUv = await addVirtualAuthenticator(page, { hasUserVerification: false, isUserVerified: false });
    const email = 'mallory@example.com';
    const accountsBefore = await accountCount();
    const request = await newRequest();
    await page.goto(request.url.href);
    await signUpUntilPasskey(page, server, email);
    assert.match(await alertText(page), /passkey was not created/i);
    await expectPage(page, 'Create a passkey');
    assert.equal(await page.getByRole('button', { name: 'Create a passkey' }).isEnabled(), true, 'the person can try again');
    assert.equal(await accountsWithEmail(email), 0, 'no account without a user-verified passkey');
    assert.equal(await accountCount(), accountsBefore);
    assert.deepEqual(await noUv.credentials(), [], 'the authenticator made no credential');
    assert.equal(reachedApplication(request.state), false, 'the application got nothing (so no phr/phrh either)');

    // A user-verifying passkey, copied to an authenticator that does not verify the user now.
    const victim = 'niklaus@example.com';
    const { credentials } = await signUpElsewhere(victim);
    const storedBefore = await storedPasskey(credentials[0]!);
    assert.ok(storedBefore, 'the passkey is stored');

    const other = await freshContext({ autofill: false });
    const signInPage = await other.newPage();
    await addCredentials(await addVirtualAuthenticator(signInPage, { hasUserVerification: true, isUserVerified: false }), credentials);
    const signIn = await newRequest();
    await signInPage.goto(signIn.url.href);
    await expectSignInPage(signInPage, server);
    await signInPage.getByRole('button', { name: 'Sign in with a passkey' }).click();
    assert.match(await alertText(signInPage), /No passkey was used/);
    assert.equal(await signInPage.getByRole('button', { name: 'Sign in with a passkey' }).isEnabled(), true, 'the person can try again');
    await signInPage.waitForTimeout(300);
    await expectSignInPage(signInPage, server);
    assert.equal(reachedApplication(signIn.state), false, 'no redirect to the application');
    assert.deepEqual(await storedPasskey(credentials[0]!), storedBefore, 'the passkey was not used');
  });

  it('cancels: "Cancel and go back" returns to the application with access_denied', { timeout: TEST_TIMEOUT }, async () => {
    const context = await freshContext({ autofill: false });
    const page = await context.newPage();
    await addVirtualAuthenticator(page);
    const request = await newRequest();
    await page.goto(request.url.href);
    await expectSignInPage(page, server);
    await page.getByRole('button', { name: 'Cancel and go back to Test App' }).click();
    const callback = await waitForApplication(page, app);

    assert.equal(callback.searchParams.get('error'), 'access_denied');
    assert.equal(callback.searchParams.get('state'), request.state);
    assert.equal(callback.searchParams.get('code'), null);
    await assert.rejects(redeem(rp, request, callback.href), (error: unknown) => {
      assert.ok(error instanceof oidc.AuthorizationResponseError, String(error));
      assert.equal(error.error, 'access_denied');
      return true;
    });
  });
});

/** Polls a condition set by the browser (e.g. through an exposed binding), bounded. */
async function waitUntil(condition: () => boolean, message: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(message);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
