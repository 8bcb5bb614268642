/**
 * Every flow on the hosted pages completed with the keyboard alone (WCAG 2.1.1, 2.4.3, 2.4.7):
 * sign-up, consent, step-up, recovery, the account page (rename, add with its re-authentication,
 * remove), a backchannel approval, an enrollment link and the device flow. Headless Chromium with
 * a virtual WebAuthn authenticator; the person only presses Tab, Shift+Tab, Enter and Space, and
 * types into the field the focus is on (Ctrl+A first, to replace what it held). A page is opened
 * directly only where a person would follow a link to it (the application's sign-in request, the
 * account page, a mailed link, the address a TV shows).
 *
 * At every Tab stop the focused control must show a visible focus indicator. Where a flow has a
 * natural failure (a wrong emailed code, a passkey that is not on this device), the message must
 * be announced (role="alert") and the focus must be where the person can try again.
 *
 * Run: node --import tsx --test test/browser/keyboard.test.ts
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import type { ClientMetadata } from 'oidc-provider';
import type * as oidc from 'openid-client';
import type { Browser, Locator, Page } from 'playwright-core';
import { api, apiClient, apiToken, cibaClient } from '../helpers/api.ts';
import type { TestServer } from '../helpers/app.ts';
import { authorizationRequest, redeem, registerRelyingParty, type AuthorizationRequest } from '../helpers/rp.ts';
import {
  addCredentials,
  addVirtualAuthenticator,
  alertText,
  assertVisibleFocus,
  browserUnavailable,
  type CallbackServer,
  describeFocused,
  describePage,
  expectPage,
  expectSignInPage,
  type FocusedElement,
  focusedElement,
  Profiles,
  startBrowserSuite,
  stopBrowserSuite,
  type VirtualAuthenticator,
  waitForApplication,
} from './helpers.ts';

const TEST_TIMEOUT = 45_000;
/** Tab presses allowed to reach one control: the account page, the longest, has about 20 stops. */
const MAX_TABS = 40;

const admin = apiClient('keyboard-onboarding', 'users:write enrollments:write');
const bank = cibaClient('keyboard-bank');
const tv: ClientMetadata = {
  client_id: 'keyboard-tv',
  client_name: 'Living Room TV',
  token_endpoint_auth_method: 'none',
  grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
  response_types: [],
  redirect_uris: [],
};

/** Whether the keyboard focus is on (one of) the element(s) the locator finds; does not wait. */
function isFocused(target: Locator): Promise<boolean> {
  return target.evaluateAll((elements) => elements.some((element) => element === document.activeElement));
}

/**
 * Presses Tab (Shift+Tab with `backwards`) until the focus is on `target`, checking at every stop
 * that the focused control shows a visible focus indicator. Fails after `max` presses, naming the
 * page and every stop on the way (a control Tab never reaches, or a focus trap, shows there).
 */
async function tabTo(page: Page, target: Locator, { backwards = false, max = MAX_TABS } = {}): Promise<FocusedElement> {
  const path: string[] = [];
  for (let presses = 0; presses < max; presses++) {
    await page.keyboard.press(backwards ? 'Shift+Tab' : 'Tab');
    const element = await focusedElement(page);
    path.push(describeFocused(element));
    // Past the last control the focus leaves the page for the browser's own UI: that is no stop.
    if (!element) continue;
    assertVisibleFocus(element);
    if (await isFocused(target)) return element;
  }
  return assert.fail(`${backwards ? 'Shift+Tab' : 'Tab'} did not reach ${target} in ${max} presses on ${await describePage(page)}; the focus went: ${path.join(' → ')}`);
}

/** Waits (briefly) for the focus to be on `target`, e.g. back on a button after a failure, or on a field after a reload. */
async function expectFocus(page: Page, target: Locator, why: string): Promise<FocusedElement> {
  // Polled: page.waitForFunction() with a string needs eval, which the pages' CSP refuses.
  for (const deadline = Date.now() + 3_000; Date.now() < deadline; await page.waitForTimeout(50)) {
    if (await isFocused(target)) {
      const element = await focusedElement(page);
      assertVisibleFocus(element);
      return element;
    }
  }
  return assert.fail(`${why}: expected the focus on ${target}, it is on ${describeFocused(await focusedElement(page))} at ${await describePage(page)}`);
}

/** Tabs to the control and presses Enter on it. */
async function activate(page: Page, target: Locator): Promise<void> {
  await tabTo(page, target);
  await page.keyboard.press('Enter');
}

/** Tabs to a text field and types into it, replacing what it held. */
async function typeInto(page: Page, field: Locator, text: string): Promise<void> {
  await tabTo(page, field);
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.type(text);
  assert.equal(await field.inputValue(), text, `${field} holds what was typed`);
}

/** The failure is announced: the page's role="alert" element says `pattern`. */
async function expectAlert(page: Page, pattern: RegExp): Promise<void> {
  const alert = page.getByRole('alert').filter({ hasText: pattern });
  try {
    await alert.waitFor({ state: 'visible' });
  } catch {
    assert.fail(`expected an alert matching ${pattern}, got ${await describePage(page)}`);
  }
}

describe('the hosted pages with the keyboard alone', { skip: browserUnavailable }, () => {
  let server: TestServer;
  let app: CallbackServer;
  let rp: oidc.Configuration;
  let browser: Browser;
  const profiles = new Profiles(() => browser);

  before(async () => {
    ({ server, app, rp, browser } = await startBrowserSuite({}, { clients: [admin, bank, tv] }));
  });

  afterEach(() => profiles.closeAll());

  after(async () => {
    await stopBrowserSuite({ server, app, browser });
  });

  /** A tab in a fresh browser profile (no cookies, no passkeys, no autofill) with a virtual authenticator. */
  async function freshPage(): Promise<{ page: Page; authenticator: VirtualAuthenticator }> {
    const page = await (await profiles.fresh()).newPage();
    return { page, authenticator: await addVirtualAuthenticator(page) };
  }

  function newRequest(params: Record<string, string> = {}, client = rp): Promise<AuthorizationRequest> {
    return authorizationRequest(client, { redirect_uri: app.redirectUri, ...params });
  }

  /** From the sign-in page: "Create account", the email, the mailed code, "Create a passkey"; stops once the passkey is made. */
  /**
   * The email step of sign-up and recovery: the address, then the code it was sent. With
   * `wrongCodeFirst`, a wrong code comes first: it is announced and the focus returns to the field.
   */
  async function confirmEmailByKeyboard(page: Page, email: string, options: { wrongCodeFirst?: boolean } = {}): Promise<void> {
    await typeInto(page, page.getByLabel('Email'), email);
    await activate(page, page.getByRole('button', { name: 'Send code' }));
    await expectPage(page, 'Check your email');
    const code = server.mailbox.lastCode(email);
    if (options.wrongCodeFirst) {
      await typeInto(page, page.getByLabel('Code'), code === '000000' ? '111111' : '000000');
      await activate(page, page.getByRole('button', { name: 'Confirm email' }));
      await expectAlert(page, /That code is not right/);
      await expectFocus(page, page.getByLabel('Code'), 'after a wrong code');
      await page.keyboard.type(code);
    } else {
      await typeInto(page, page.getByLabel('Code'), code);
    }
    await activate(page, page.getByRole('button', { name: 'Confirm email' }));
  }

  async function signUpByKeyboard(page: Page, email: string): Promise<void> {
    await activate(page, page.getByRole('link', { name: 'Create account' }));
    await expectPage(page, 'Create account');
    await confirmEmailByKeyboard(page, email);
    await expectPage(page, 'Create a passkey');
    await activate(page, page.getByRole('button', { name: 'Create a passkey' }));
  }

  /** After a ceremony: consent (answered with the keyboard) if Latchkey asks for it, then the application's callback. */
  async function finishAtApplicationByKeyboard(page: Page): Promise<{ url: URL; consented: boolean }> {
    const atApplication = page.waitForURL((url) => url.origin === app.origin && url.pathname === '/callback').then(() => 'application' as const);
    const atConsent = page.getByRole('heading', { level: 1, name: /^Allow / }).waitFor().then(() => 'consent' as const);
    atApplication.catch(() => undefined);
    atConsent.catch(() => undefined);
    const first = await Promise.race([atApplication, atConsent]).catch(() => 'neither' as const);
    if (first === 'consent') {
      await activate(page, page.getByRole('button', { name: 'Allow' }));
      return { url: await waitForApplication(page, app), consented: true };
    }
    return { url: await waitForApplication(page, app), consented: false };
  }

  /** A person onboarded by the management API and an enrollment link, the passkey made with the keyboard; signed out. */
  async function enrolledByKeyboard(email: string) {
    const token = await apiToken(server, admin, 'users:write enrollments:write');
    const user = (await (await api(server, token, 'POST', '/users', { email })).json()) as { id: string };
    const link = (await (await api(server, token, 'POST', `/users/${user.id}/enrollment-links`, {})).json()) as { id: string; url: string };
    const { page, authenticator } = await freshPage();
    await page.goto(link.url);
    await expectPage(page, 'Create a passkey');
    await activate(page, page.getByRole('button', { name: 'Create a passkey' }));
    await expectPage(page, 'Your passkey is ready');
    return { user, link, page, authenticator, token };
  }

  it('sign-up: email, a wrong code then the right one, help toggled, "Create a passkey", consent, back at the application', { timeout: TEST_TIMEOUT }, async () => {
    const { page, authenticator } = await freshPage();
    const email = 'keys-signup@example.com';
    const request = await newRequest();
    await page.goto(request.url.href);
    await expectSignInPage(page, server);

    await activate(page, page.getByRole('link', { name: 'Create account' }));
    await expectPage(page, 'Create account');
    await confirmEmailByKeyboard(page, email, { wrongCodeFirst: true });
    await expectPage(page, 'Create a passkey');

    // The collapsed help opens with Enter and closes with Space, like any disclosure.
    const help = page.locator('details').filter({ has: page.getByText('What is a passkey?') });
    await tabTo(page, help.locator('summary'));
    await page.keyboard.press('Enter');
    assert.equal(await help.evaluate((details) => (details as HTMLDetailsElement).open), true, 'Enter opens "What is a passkey?"');
    await page.keyboard.press('Space');
    assert.equal(await help.evaluate((details) => (details as HTMLDetailsElement).open), false, 'Space closes it');
    // The help sits after the button: back to it with Shift+Tab.
    await tabTo(page, page.getByRole('button', { name: 'Create a passkey' }), { backwards: true });
    await page.keyboard.press('Enter');

    await expectPage(page, /^Allow /);
    await activate(page, page.getByRole('button', { name: 'Allow' }));
    const callback = await waitForApplication(page, app);
    const claims = (await redeem(rp, request, callback.href)).claims()!;
    const account = (await server.db('accounts').where({ email }).first('id')) as { id: string } | undefined;
    assert.equal(claims.sub, account?.id, 'signed in as the new account');
    const credentials = await authenticator.credentials();
    assert.equal(credentials.length, 1, 'the passkey was created on this device');
    assert.ok(await server.db('passkeys').where({ account_id: account!.id, id: Buffer.from(credentials[0]!.credentialId, 'base64').toString('base64url') }).first('id'), 'and stored for the account');
  });

  it('consent: a signed-in person allows another registered application', { timeout: TEST_TIMEOUT }, async () => {
    const other = await registerRelyingParty(server, { client_name: 'Photo Album', redirect_uris: [app.redirectUri] });
    const { page } = await freshPage();
    const email = 'keys-consent@example.com';
    const first = await newRequest();
    await page.goto(first.url.href);
    await expectSignInPage(page, server);
    await signUpByKeyboard(page, email);
    const signedUp = await finishAtApplicationByKeyboard(page);
    assert.ok(signedUp.consented, 'the first application asked for consent too');
    const person = (await redeem(rp, first, signedUp.url.href)).claims()!;

    // The person follows Photo Album's sign-in link: signed in already, only consent is asked.
    const request = await newRequest({}, other);
    await page.goto(request.url.href);
    await expectPage(page, 'Allow Photo Album?');
    await tabTo(page, page.getByRole('button', { name: 'Allow' }));
    await page.keyboard.press('Space');
    const callback = await waitForApplication(page, app);
    const claims = (await redeem(other, request, callback.href)).claims()!;
    assert.equal(claims.sub, person.sub, 'the same person, now signed in to Photo Album');
    assert.equal(claims.aud, other.clientMetadata().client_id);
  });

  it('step-up: acr_values=phrh asks "Confirm it’s you"; a missing passkey is announced and the focus returns; then the passkey', { timeout: TEST_TIMEOUT }, async () => {
    const { page, authenticator } = await freshPage();
    const signUpRequest = await newRequest();
    await page.goto(signUpRequest.url.href);
    await signUpByKeyboard(page, 'keys-stepup@example.com');
    const signedUp = (await redeem(rp, signUpRequest, (await finishAtApplicationByKeyboard(page)).url.href)).claims()!;

    const request = await newRequest({ acr_values: 'phrh' });
    await page.goto(request.url.href);
    await expectPage(page, 'Confirm it’s you');
    const confirm = page.getByRole('button', { name: 'Confirm with a passkey' });

    // The passkey is not on this device for a moment: the failure is announced, the focus comes back.
    const credentials = await authenticator.credentials();
    await authenticator.cdp.send('WebAuthn.clearCredentials', { authenticatorId: authenticator.authenticatorId });
    await activate(page, confirm);
    await expectAlert(page, /No passkey was used/);
    await expectFocus(page, confirm, 'after a failed passkey request');

    await addCredentials(authenticator, credentials);
    await page.keyboard.press('Enter');
    const callback = await waitForApplication(page, app);
    const claims = (await redeem(rp, request, callback.href)).claims()!;
    assert.equal(claims.sub, signedUp.sub);
    assert.equal(claims.acr, 'phrh');
  });

  it('recovery: "Lost your passkey?", email, a wrong code then the right one, a new passkey, back at the application', { timeout: TEST_TIMEOUT }, async () => {
    const email = 'keys-recovery@example.com';
    const lost = await freshPage();
    const signUpRequest = await newRequest();
    await lost.page.goto(signUpRequest.url.href);
    await signUpByKeyboard(lost.page, email);
    const signedUp = (await redeem(rp, signUpRequest, (await finishAtApplicationByKeyboard(lost.page)).url.href)).claims()!;
    await lost.page.context().close();

    const { page, authenticator } = await freshPage();
    const request = await newRequest();
    await page.goto(request.url.href);
    await expectSignInPage(page, server);
    await activate(page, page.getByRole('link', { name: 'Lost your passkey?' }));
    await expectPage(page, 'Lost your passkey?');
    await confirmEmailByKeyboard(page, email, { wrongCodeFirst: true });
    await expectPage(page, 'Create a new passkey');
    await activate(page, page.getByRole('button', { name: 'Create a new passkey' }));

    const { url } = await finishAtApplicationByKeyboard(page);
    const claims = (await redeem(rp, request, url.href)).claims()!;
    assert.equal(claims.sub, signedUp.sub, 'the same account');
    assert.equal(claims.acr, 'urn:latchkey:acr:otp');
    assert.equal((await authenticator.credentials()).length, 1, 'a new passkey on this device');
    assert.equal(await server.db('passkeys').where({ account_id: signedUp.sub }).count({ n: '*' }).first().then((row) => Number(row?.n)), 2);
  });

  it('account page: add a passkey (re-authenticating first; an excluded one is announced), rename it, remove it', { timeout: TEST_TIMEOUT }, async () => {
    const { page, authenticator: first } = await freshPage();
    const email = 'keys-account@example.com';
    await page.goto(server.url('/account'));
    await expectSignInPage(page, server);
    await signUpByKeyboard(page, email);
    await expectPage(page, 'Your account');
    const account = (await server.db('accounts').where({ email }).first('id')) as { id: string };
    const passkeyCount = async () => Number((await server.db('passkeys').where({ account_id: account.id }).count({ n: '*' }).first())?.n);

    // Just signed up (the session rests on the email code): "Add a passkey" asks to confirm first.
    const add = page.getByRole('button', { name: 'Add a passkey' });
    await activate(page, add);
    await expectPage(page, 'Confirm it’s you');
    await activate(page, page.getByRole('button', { name: 'Confirm with a passkey' }));
    await expectPage(page, 'Your account');
    await page.getByRole('status').filter({ hasText: 'Thanks for confirming it’s you' }).waitFor();

    // This device already holds the account's passkey (excluded): announced, and the focus comes back.
    await activate(page, add);
    await expectAlert(page, /already holds one of your passkeys/);
    await expectFocus(page, add, 'after a refused passkey');

    // Another authenticator makes the new one.
    await first.cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: first.authenticatorId });
    const second = await addVirtualAuthenticator(page);
    await page.keyboard.press('Enter');
    await page.getByRole('status').filter({ hasText: 'Passkey added' }).waitFor();
    assert.equal((await second.credentials()).length, 1);
    assert.equal(await passkeyCount(), 2);

    // Rename the new one (second in the list).
    const items = page.getByRole('listitem').filter({ has: page.getByRole('button', { name: 'Remove' }) });
    await typeInto(page, items.nth(1).getByLabel('Passkey name'), 'Work laptop');
    await activate(page, items.nth(1).getByRole('button', { name: 'Rename' }));
    await page.getByRole('status').filter({ hasText: 'Passkey renamed' }).waitFor();
    const laptop = page.getByRole('listitem').filter({ has: page.getByRole('heading', { level: 3, name: 'Work laptop', exact: true }) });
    assert.equal(await laptop.count(), 1);

    // Remove it: the first passkey is the one left.
    const removedId = Buffer.from((await second.credentials())[0]!.credentialId, 'base64').toString('base64url');
    await activate(page, laptop.getByRole('button', { name: 'Remove' }));
    await page.getByRole('status').filter({ hasText: 'Passkey removed' }).waitFor();
    assert.equal(await laptop.count(), 0);
    assert.equal(await passkeyCount(), 1);
    assert.equal(await server.db('passkeys').where({ id: removedId }).first('id'), undefined, 'the renamed passkey is the one removed');
  });

  it('backchannel approval: a missing passkey is announced and the focus returns; then "Approve", and the bank gets tokens', { timeout: TEST_TIMEOUT }, async () => {
    const email = 'keys-payer@example.com';
    const { user, page, authenticator } = await enrolledByKeyboard(email);
    const started = await fetch(server.url('/backchannel'), {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${bank.client_id}:${bank.client_secret}`).toString('base64')}` },
      body: new URLSearchParams({ scope: 'openid', login_hint: email, binding_message: 'Pay 42.00 EUR to Keyboard Shop' }),
    });
    assert.equal(started.status, 200, await started.clone().text());
    const { auth_req_id } = (await started.json()) as { auth_req_id: string };
    const mail = server.mailbox.sent.filter((m) => m.to === email).at(-1)!;
    await page.goto(mail.text.match(/https?:\/\/\S+\/approve\/[A-Za-z0-9_-]+/)![0]);
    await expectPage(page, 'Approve a request from Example Bank');
    const approve = page.getByRole('button', { name: 'Approve' });

    const credentials = await authenticator.credentials();
    await authenticator.cdp.send('WebAuthn.clearCredentials', { authenticatorId: authenticator.authenticatorId });
    await activate(page, approve);
    await expectAlert(page, /No passkey was used/);
    await expectFocus(page, approve, 'after a failed passkey request');

    // Space works on the button as well as Enter.
    await addCredentials(authenticator, credentials);
    await page.keyboard.press('Space');
    await expectPage(page, 'Request approved');
    const tokens = (await (
      await fetch(server.url('/token'), {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${bank.client_id}:${bank.client_secret}`).toString('base64')}` },
        body: new URLSearchParams({ grant_type: 'urn:openid:params:grant-type:ciba', auth_req_id }),
      })
    ).json()) as { id_token?: string; error?: string };
    assert.ok(tokens.id_token, `tokens, not ${tokens.error}`);
    assert.equal(decodeJwt(tokens.id_token).sub, user.id);
    assert.equal(decodeJwt(tokens.id_token).acr, 'phrh');
  });

  it('enrollment link: a failed try is announced and the focus returns; then "Create a passkey", and the link is used', { timeout: TEST_TIMEOUT }, async () => {
    const token = await apiToken(server, admin, 'users:write enrollments:write');
    const user = (await (await api(server, token, 'POST', '/users', { email: 'keys-hire@example.com' })).json()) as { id: string };
    const link = (await (await api(server, token, 'POST', `/users/${user.id}/enrollment-links`, {})).json()) as { id: string; url: string };
    const { page, authenticator } = await freshPage();
    await page.goto(link.url);
    await expectPage(page, 'Create a passkey');
    const create = page.getByRole('button', { name: 'Create a passkey' });

    // The device cannot confirm the person (no PIN or fingerprint) this time.
    await authenticator.cdp.send('WebAuthn.setUserVerified', { authenticatorId: authenticator.authenticatorId, isUserVerified: false });
    await activate(page, create);
    assert.match(await alertText(page), /The passkey was not created/);
    await expectFocus(page, create, 'after a failed passkey request');

    await authenticator.cdp.send('WebAuthn.setUserVerified', { authenticatorId: authenticator.authenticatorId, isUserVerified: true });
    await page.keyboard.press('Enter');
    await expectPage(page, 'Your passkey is ready');
    const status = (await (await api(server, token, 'GET', `/enrollment-links/${link.id}`)).json()) as { status: string };
    assert.equal(status.status, 'completed');
    assert.equal((await authenticator.credentials()).length, 1);
  });

  it('device flow: a wrong code is announced with the focus on the field; the right code, "Continue", sign-in, "Allow"; the TV gets tokens', { timeout: TEST_TIMEOUT }, async () => {
    const { user, page } = await enrolledByKeyboard('keys-viewer@example.com');
    const started = (await (
      await fetch(server.url('/device/auth'), { method: 'POST', body: new URLSearchParams({ client_id: tv.client_id, scope: 'openid' }) })
    ).json()) as { user_code: string; device_code: string; verification_uri: string };

    // The person types the address the TV shows; the code field has the focus when the page opens.
    await page.goto(started.verification_uri);
    await expectPage(page, 'Connect a device');
    const codeField = page.getByLabel('Code');
    await expectFocus(page, codeField, 'the device page opens');
    await page.keyboard.type('BCDF-GHJK');
    await page.keyboard.press('Enter');
    await expectAlert(page, /That code is not valid/);
    await expectFocus(page, codeField, 'after a wrong code');
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type(started.user_code);
    await activate(page, page.getByRole('button', { name: 'Continue' }));

    await expectPage(page, 'Connect Living Room TV?');
    await activate(page, page.getByRole('button', { name: 'Continue' }));
    await expectSignInPage(page, server);
    await activate(page, page.getByRole('button', { name: 'Sign in with a passkey' }));
    await expectPage(page, 'Allow Living Room TV?');
    await activate(page, page.getByRole('button', { name: 'Allow' }));
    await expectPage(page, 'Device connected');

    const tokens = (await (
      await fetch(server.url('/token'), {
        method: 'POST',
        body: new URLSearchParams({ client_id: tv.client_id, grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: started.device_code }),
      })
    ).json()) as { id_token?: string; error?: string };
    assert.ok(tokens.id_token, `tokens, not ${tokens.error}`);
    assert.equal(decodeJwt(tokens.id_token).sub, user.id);
    assert.equal(decodeJwt(tokens.id_token).acr, 'phrh');
  });
});
