/**
 * Step-up in a real browser: headless Chromium with a virtual WebAuthn authenticator per tab,
 * Latchkey on 127.0.0.1 (issuer http://localhost:PORT), and a relying party whose callback the
 * browser really lands on. A person already signed in with a passkey is sent back by the
 * application with a stronger or fresher requirement; the "Confirm it’s you" page asks for one
 * of their own passkeys. Pages are driven only by roles and accessible names.
 *
 * Run: node --import tsx --test test/browser/step-up.test.ts
 * (CHROMIUM_PATH overrides /usr/bin/chromium.)
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import type { TestServer } from '../helpers/app.ts';
import { authorizationRequest, redeem, type AuthorizationRequest } from '../helpers/rp.ts';
import {
  addCredentials,
  addVirtualAuthenticator,
  alertText,
  type AuthenticatorOptions,
  browserUnavailable,
  type CallbackServer,
  describePage,
  expectPage,
  expectSignInPage,
  finishAtApplication,
  Profiles,
  signUp,
  startBrowserSuite,
  stopBrowserSuite,
  type VirtualAuthenticator,
  waitForApplication,
  type WebAuthnCredential,
} from './helpers.ts';

const TEST_TIMEOUT = 20_000;

const STEP_UP_TITLE = 'Confirm it’s you';
const HARDWARE_AMR = ['pop', 'hwk', 'user', 'mfa'];
const SYNCED: AuthenticatorOptions = { defaultBackupEligibility: true, defaultBackupState: true };
/** LATCHKEY_ACR_MAX_AGE_PHRH defaults to 900 s: this is past it. */
const PAST_PHRH_AGE_MS = 16 * 60 * 1000;

/** A person signed in to Latchkey in one tab with a passkey (not with the sign-up's email code). */
interface SignedIn {
  readonly email: string;
  readonly page: Page;
  readonly authenticator: VirtualAuthenticator;
  readonly claims: oidc.IDToken;
}

describe('step-up in the browser', { skip: browserUnavailable }, () => {
  let server: TestServer;
  let app: CallbackServer;
  let rp: oidc.Configuration;
  let browser: Browser;
  const profiles = new Profiles(() => browser);
  /** How far a test has moved Latchkey's clock; put back in afterEach even if the test failed. */
  let clockOffset = 0;

  before(async () => {
    ({ server, app, rp, browser } = await startBrowserSuite());
  });

  afterEach(async () => {
    restoreClock();
    await profiles.closeAll();
  });

  after(async () => {
    restoreClock();
    await stopBrowserSuite({ server, app, browser });
  });

  function advanceClock(ms: number): void {
    server.advanceClock(ms);
    clockOffset += ms;
  }

  function restoreClock(): void {
    if (clockOffset !== 0) server?.advanceClock(-clockOffset);
    clockOffset = 0;
  }

  /** Latchkey's clock, in seconds: what it writes into auth_time. */
  function latchkeyNow(): number {
    return Math.floor((Date.now() + clockOffset) / 1000);
  }

  const freshContext = () => profiles.fresh();

  function newRequest(params: Record<string, string> = {}): Promise<AuthorizationRequest> {
    return authorizationRequest(rp, { redirect_uri: app.redirectUri, ...params });
  }

  function reachedApplication(request: AuthorizationRequest): boolean {
    return app.hits.some((url) => url.searchParams.get('state') === request.state);
  }

  /** Signs up in a browser profile of its own, which is then closed; returns the passkey as the authenticator holds it. */
  async function signUpElsewhere(email: string, options: AuthenticatorOptions = {}): Promise<WebAuthnCredential[]> {
    const context = await freshContext();
    const page = await context.newPage();
    const authenticator = await addVirtualAuthenticator(page, options);
    const request = await newRequest();
    await page.goto(request.url.href);
    await redeem(rp, request, (await signUp(page, server, app, email)).href);
    const credentials = await authenticator.credentials();
    assert.equal(credentials.length, 1);
    await context.close();
    return credentials;
  }

  /**
   * Signs up, then signs in with the passkey in a fresh profile ("Sign in with a passkey"), so the
   * session stands on a passkey ceremony: phrh for a device-bound passkey, phr for a synced one.
   */
  async function signedIn(email: string, options: AuthenticatorOptions = {}): Promise<SignedIn> {
    const credentials = await signUpElsewhere(email, options);
    const context = await freshContext();
    const page = await context.newPage();
    const authenticator = await addVirtualAuthenticator(page, options);
    await addCredentials(authenticator, credentials);
    const request = await newRequest();
    await page.goto(request.url.href);
    await expectSignInPage(page, server);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    const { url } = await finishAtApplication(page, app);
    const claims = (await redeem(rp, request, url.href)).claims()!;
    assert.equal(claims.acr, options.defaultBackupEligibility ? 'phr' : 'phrh', 'signed in with the passkey');
    return { email, page, authenticator, claims };
  }

  /** Opens the request in the person's tab and expects the step-up page; returns its main region's text. */
  async function openStepUp(who: SignedIn, request: AuthorizationRequest): Promise<string> {
    await who.page.goto(request.url.href);
    await expectPage(who.page, STEP_UP_TITLE);
    assert.equal(new URL(who.page.url()).origin, server.issuer);
    assert.match(new URL(who.page.url()).pathname, /^\/interaction\/[^/]+$/);
    const text = (await who.page.getByRole('main', { name: STEP_UP_TITLE }).innerText()).replace(/\s+/g, ' ');
    assert.match(text, new RegExp(`Test App asks you to confirm your identity as ${escapeRegExp(who.email)}\\.`), 'the page names the application and the person');
    // No way to become someone else from here: no email field, no sign-up.
    assert.equal(await who.page.getByRole('textbox').count(), 0);
    assert.equal(await who.page.getByRole('link', { name: 'Create account' }).count(), 0);
    return text;
  }

  it('asks again for phrh once 15 minutes have passed; a device-bound passkey gives phrh with a fresh auth_time', { timeout: TEST_TIMEOUT }, async () => {
    const person = await signedIn('dora@example.com');

    // Within 15 minutes of the ceremony, phrh is still met: straight back to the application.
    const fresh = await newRequest({ acr_values: 'phrh' });
    await person.page.goto(fresh.url.href);
    const freshClaims = (await redeem(rp, fresh, (await waitForApplication(person.page, app)).href)).claims()!;
    assert.equal(freshClaims.acr, 'phrh');
    assert.equal(freshClaims.auth_time, person.claims.auth_time, 'no new ceremony');

    advanceClock(PAST_PHRH_AGE_MS);
    const request = await newRequest({ acr_values: 'phrh' });
    const text = await openStepUp(person, request);
    assert.match(text, /It needs a passkey that stays on one device/, 'the page says what the application asks for');
    assert.match(text, /A passkey synced through a password manager will not do\./);

    const beforeClick = latchkeyNow();
    await person.page.getByRole('button', { name: 'Confirm with a passkey' }).click();
    const callback = await waitForApplication(person.page, app);

    const claims = (await redeem(rp, request, callback.href)).claims()!;
    assert.equal(claims.sub, person.claims.sub);
    assert.equal(claims.acr, 'phrh');
    assert.deepEqual(claims.amr, HARDWARE_AMR);
    assert.ok((claims.auth_time as number) >= beforeClick, `auth_time ${claims.auth_time} is the time of this ceremony (>= ${beforeClick})`);
    assert.ok((claims.auth_time as number) >= (person.claims.auth_time as number) + PAST_PHRH_AGE_MS / 1000, 'auth_time moved on past the old ceremony');
  });

  it('a synced passkey cannot reach phrh: the ceremony ends in unmet_authentication_requirements and no code', { timeout: TEST_TIMEOUT }, async () => {
    const person = await signedIn('sam@example.com', SYNCED);

    const request = await newRequest({ acr_values: 'phrh' });
    const text = await openStepUp(person, request);
    assert.match(text, /It needs a passkey that stays on one device/);

    await person.page.getByRole('button', { name: 'Confirm with a passkey' }).click();
    const callback = await waitForApplication(person.page, app);
    assert.equal(callback.searchParams.get('error'), 'unmet_authentication_requirements');
    assert.equal(callback.searchParams.get('state'), request.state);
    assert.equal(callback.searchParams.get('code'), null, 'no code, so never a weaker token');
    await assert.rejects(redeem(rp, request, callback.href), (error: unknown) => {
      assert.ok(error instanceof oidc.AuthorizationResponseError, String(error));
      assert.equal(error.error, 'unmet_authentication_requirements');
      return true;
    });

    // The failed step-up left the session as it was: it still satisfies phr without a page.
    const phr = await newRequest({ acr_values: 'phr' });
    await person.page.goto(phr.url.href);
    const claims = (await redeem(rp, phr, (await waitForApplication(person.page, app)).href)).claims()!;
    assert.equal(claims.sub, person.claims.sub);
    assert.equal(claims.acr, 'phr');
    assert.deepEqual(claims.amr, ['pop', 'swk', 'user', 'mfa']);
  });

  it('max_age=0 asks for a fresh ceremony even of a fresh phrh session, and auth_time moves on', { timeout: TEST_TIMEOUT }, async () => {
    const person = await signedIn('max@example.com');
    // Two minutes later (well within phrh's 15): only max_age can be what asks.
    advanceClock(2 * 60 * 1000);

    const request = await newRequest({ max_age: '0' });
    const text = await openStepUp(person, request);
    assert.match(text, /It asks you to confirm it is you again before you continue\./);

    const beforeClick = latchkeyNow();
    await person.page.getByRole('button', { name: 'Confirm with a passkey' }).click();
    const callback = await waitForApplication(person.page, app);

    const claims = (await redeem(rp, request, callback.href)).claims()!;
    assert.equal(claims.sub, person.claims.sub);
    assert.equal(claims.acr, 'phrh');
    assert.deepEqual(claims.amr, HARDWARE_AMR);
    assert.ok((claims.auth_time as number) >= beforeClick, `auth_time ${claims.auth_time} is the time of this ceremony (>= ${beforeClick})`);
    assert.ok((claims.auth_time as number) >= (person.claims.auth_time as number) + 120, 'not the sign-in’s auth_time');
  });

  it('"Cancel and go back to Test App" on the step-up page returns access_denied', { timeout: TEST_TIMEOUT }, async () => {
    const person = await signedIn('carl@example.com');
    const request = await newRequest({ max_age: '0' });
    await openStepUp(person, request);

    await person.page.getByRole('button', { name: 'Cancel and go back to Test App' }).click();
    const callback = await waitForApplication(person.page, app);
    assert.equal(callback.searchParams.get('error'), 'access_denied');
    assert.equal(callback.searchParams.get('state'), request.state);
    assert.equal(callback.searchParams.get('code'), null);
    await assert.rejects(redeem(rp, request, callback.href), (error: unknown) => {
      assert.ok(error instanceof oidc.AuthorizationResponseError, String(error));
      assert.equal(error.error, 'access_denied');
      return true;
    });
  });

  /**
   * The person's own passkey leaves the tab and another person's passkey takes its place, so the
   * only passkey the browser can offer belongs to someone else.
   */
  async function holdOnlyForeignPasskey(person: SignedIn, foreign: readonly WebAuthnCredential[]): Promise<WebAuthnCredential[]> {
    const own = await person.authenticator.credentials(); // read after their last use: current counters
    await person.authenticator.cdp.send('WebAuthn.clearCredentials', { authenticatorId: person.authenticator.authenticatorId });
    await addCredentials(person.authenticator, foreign);
    assert.deepEqual((await person.authenticator.credentials()).map((c) => c.credentialId), foreign.map((c) => c.credentialId));
    return own;
  }

  /** The passkey row as the server stores it (credential ids are base64url there, base64 in CDP). */
  function storedPasskey(credential: WebAuthnCredential) {
    return server
      .db('passkeys')
      .where({ id: Buffer.from(credential.credentialId, 'base64').toString('base64url') })
      .first('account_id', 'counter', 'last_used_at');
  }

  it('another account’s passkey cannot satisfy the step-up: an alert, no redirect', { timeout: TEST_TIMEOUT }, async () => {
    const foreign = await signUpElsewhere('oscar@example.com');
    const person = await signedIn('petra@example.com');
    await holdOnlyForeignPasskey(person, foreign);

    const request = await newRequest({ max_age: '0' });
    await openStepUp(person, request);
    await person.page.getByRole('button', { name: 'Confirm with a passkey' }).click();
    // The ceremony is restricted to the person's own passkeys, which this tab no longer has.
    assert.match(await alertText(person.page), /No passkey was used/);
    assert.equal(await person.page.getByRole('button', { name: 'Confirm with a passkey' }).isEnabled(), true, 'the person can try again');
    await person.page.waitForTimeout(300);
    await expectPage(person.page, STEP_UP_TITLE);
    assert.equal(reachedApplication(request), false, 'no redirect to the application');
  });

  it('the server refuses another account’s passkey even when the browser offers it (allowCredentials ignored)', { timeout: TEST_TIMEOUT }, async () => {
    const foreign = await signUpElsewhere('olga@example.com');
    const foreignBefore = await storedPasskey(foreign[0]!);
    assert.ok(foreignBefore);
    const person = await signedIn('pavel@example.com');
    const own = await holdOnlyForeignPasskey(person, foreign);

    // Plays a browser or extension that lets any passkey answer: the page's step-up options reach
    // the authenticator without their allowCredentials, so it offers the foreign (discoverable) passkey.
    const offered: string[][] = [];
    await person.page.route('**/passkey/options', async (route) => {
      const response = await route.fetch();
      const options = (await response.json()) as { allowCredentials?: { id: string }[] };
      offered.push((options.allowCredentials ?? []).map((credential) => credential.id));
      await route.fulfill({ response, json: { ...options, allowCredentials: [] } });
    });

    const request = await newRequest({ max_age: '0' });
    await openStepUp(person, request);
    await person.page.getByRole('button', { name: 'Confirm with a passkey' }).click();
    // "Signing you in…" shows while the server checks the passkey; then the refusal replaces it.
    await alertSaying(person.page, /belongs to another account/);
    const ownIds = own.map((credential) => Buffer.from(credential.credentialId, 'base64').toString('base64url'));
    assert.deepEqual(offered, [ownIds], 'Latchkey itself restricted the step-up to the person’s own passkeys');
    assert.equal(await person.page.getByRole('button', { name: 'Confirm with a passkey' }).isEnabled(), true);
    await person.page.waitForTimeout(300);
    await expectPage(person.page, STEP_UP_TITLE);
    assert.equal(reachedApplication(request), false, 'no redirect to the application');
    assert.deepEqual(await storedPasskey(foreign[0]!), foreignBefore, 'the foreign passkey was not recorded as used');

    // The same page still works with the person's own passkey, and it is the person who comes back.
    await person.page.unrouteAll();
    await person.authenticator.cdp.send('WebAuthn.clearCredentials', { authenticatorId: person.authenticator.authenticatorId });
    await addCredentials(person.authenticator, own);
    await person.page.getByRole('button', { name: 'Confirm with a passkey' }).click();
    const callback = await waitForApplication(person.page, app);
    const claims = (await redeem(rp, request, callback.href)).claims()!;
    assert.equal(claims.sub, person.claims.sub);
    assert.equal(claims.acr, 'phrh');
  });
});

/** Waits until the page's alert says `pattern`; on failure, says what the alert said instead. */
async function alertSaying(page: Page, pattern: RegExp): Promise<void> {
  try {
    await page.getByRole('alert').filter({ hasText: pattern }).waitFor({ state: 'visible' });
  } catch (error) {
    assert.fail(`expected an alert matching ${pattern}, got ${await describePage(page)}: ${(error as Error).message.split('\n')[0]}`);
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
