/**
 * Helpers for the browser suite: headless Chromium driven by playwright-core, a virtual WebAuthn
 * authenticator per tab (Chrome DevTools Protocol), and a tiny relying-party callback server so
 * the browser really lands back at the application.
 *
 * Pages are driven only by roles and accessible names, as a screen-reader user would.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from 'playwright-core';
import type * as oidc from 'openid-client';
import type { ClientMetadata } from 'oidc-provider';
import { api, apiToken } from '../helpers/api.ts';
import { startLatchkey, type TestServer } from '../helpers/app.ts';
import { registerRelyingParty } from '../helpers/rp.ts';

/** How long one step (a click and what it causes) may take before the test fails. */
export const STEP_TIMEOUT = 10_000;

/** The Chromium to drive: CHROMIUM_PATH, or Debian's. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why the browser suite cannot run here, if it cannot (reported as a skip, not hidden). */
export const browserUnavailable: string | false = existsSync(CHROMIUM_PATH) ? false : `no Chromium at ${CHROMIUM_PATH}; set CHROMIUM_PATH`;

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A fresh browser profile (no cookies, no passkeys) with bounded waits. */
export async function newContext(browser: Browser): Promise<BrowserContext> {
  const context = await browser.newContext();
  context.setDefaultTimeout(STEP_TIMEOUT);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT);
  return context;
}

/**
 * Turns passkey autofill off in every page of the context: the pages then never start a
 * conditional request, which the virtual authenticator could otherwise answer on its own
 * while a test means to click "Sign in with a passkey".
 */
export async function disablePasskeyAutofill(context: BrowserContext): Promise<void> {
  // Scripts are strings: functions compiled by tsx carry helpers (__name) the page lacks.
  await context.addInitScript({ content: 'PublicKeyCredential.isConditionalMediationAvailable = async () => false;' });
}

/**
 * Records the `mediation` of every navigator.credentials.get() call the context's pages make
 * ('conditional' for passkey autofill, 'optional' when none is given).
 *
 * With `holdConditionalUntilFocus`, a conditional request is passed on to the browser only once
 * an input marked `autocomplete="… webauthn"` has focus: a stand-in for the autofill dropdown in
 * which a person picks the passkey, which headless Chromium does not have (its virtual
 * authenticator answers a conditional request at once). An abort before that is honoured.
 */
export async function watchCredentialRequests(context: BrowserContext, options: { holdConditionalUntilFocus: boolean }): Promise<string[]> {
  const mediations: string[] = [];
  await context.exposeBinding('__latchkeyTestRecordGet', (_source, mediation: unknown) => {
    mediations.push(String(mediation));
  });
  await context.addInitScript({
    content: `(() => {
      const hold = ${JSON.stringify(options.holdConditionalUntilFocus)};
      const container = navigator.credentials;
      const get = container.get.bind(container);
      const isPasskeyField = (element) =>
        element instanceof HTMLInputElement && (element.getAttribute('autocomplete') || '').toLowerCase().split(' ').includes('webauthn');
      container.get = function (options) {
        window.__latchkeyTestRecordGet(String((options && options.mediation) || 'optional'));
        if (!hold || !options || options.mediation !== 'conditional' || isPasskeyField(document.activeElement)) return get(options);
        return new Promise((resolve, reject) => {
          const signal = options.signal;
          function cleanup() {
            document.removeEventListener('focusin', onFocus, true);
            if (signal) signal.removeEventListener('abort', onAbort);
          }
          function onFocus(event) {
            if (!isPasskeyField(event.target)) return;
            cleanup();
            get(options).then(resolve, reject);
          }
          function onAbort() {
            cleanup();
            reject(signal.reason || new DOMException('The operation was aborted.', 'AbortError'));
          }
          if (signal && signal.aborted) return onAbort();
          document.addEventListener('focusin', onFocus, true);
          if (signal) signal.addEventListener('abort', onAbort);
        });
      };
    })();`,
  });
  return mediations;
}

/** The application's side: where Latchkey sends the browser back. Records every hit. */
export interface CallbackServer {
  readonly origin: string;
  readonly redirectUri: string;
  readonly postLogoutRedirectUri: string;
  /** Every URL the browser opened on this server, in order. */
  readonly hits: URL[];
  close(): Promise<void>;
}

export async function startCallbackServer(): Promise<CallbackServer> {
  const hits: URL[] = [];
  let origin = '';
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', origin);
    hits.push(url);
    const title = url.pathname === '/signed-out' ? 'Signed out of Test App' : 'Back at Test App';
    res.writeHead(url.pathname === '/callback' || url.pathname === '/signed-out' ? 200 : 404, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
    });
    res.end(`<!doctype html><html lang="en"><title>${title}</title><h1>${title}</h1></html>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  // localhost, like the issuer: the browser resolves it to the loopback address we listen on.
  origin = `http://localhost:${port}`;
  return {
    origin,
    redirectUri: `${origin}/callback`,
    postLogoutRedirectUri: `${origin}/signed-out`,
    hits,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Where the browser is, for failure messages: URL, main heading and any alert. */
export async function describePage(page: Page): Promise<string> {
  const heading = await page.getByRole('heading', { level: 1 }).first().textContent({ timeout: 500 }).catch(() => null);
  const alert = await page.getByRole('alert').first().textContent({ timeout: 500 }).catch(() => null);
  return `${page.url()} (heading: ${heading?.trim() ?? 'none'}; alert: ${alert?.trim() ?? 'none'})`;
}

/**
 * Waits for the page whose main heading is `name`, and for its scripts: the pages load them
 * deferred, so a button can be on screen before its handler is attached (a click then does
 * nothing, as it would for a person on a slow connection). On failure, says which page the
 * browser is on instead.
 */
export async function expectPage(page: Page, name: string | RegExp): Promise<void> {
  try {
    await page.getByRole('heading', { level: 1, name, exact: typeof name === 'string' }).waitFor();
    await page.waitForLoadState('domcontentloaded');
  } catch (error) {
    assert.fail(`expected the page "${name}", got ${await describePage(page)}: ${(error as Error).message.split('\n')[0]}`);
  }
}

/** Waits until the page is back at the application (the given path of the callback server) and returns that URL. */
export async function waitForApplication(page: Page, app: CallbackServer, path = '/callback'): Promise<URL> {
  try {
    await page.waitForURL((url) => url.origin === app.origin && url.pathname === path);
  } catch (error) {
    assert.fail(`expected to land on ${app.origin}${path}, still at ${await describePage(page)}: ${(error as Error).message.split('\n')[0]}`);
  }
  return new URL(page.url());
}

/** What a test may change about the virtual authenticator (CDP WebAuthn.VirtualAuthenticatorOptions). */
export interface AuthenticatorOptions {
  readonly hasUserVerification?: boolean;
  readonly isUserVerified?: boolean;
  readonly automaticPresenceSimulation?: boolean;
  /** BE flag on new credentials: a synced passkey. */
  readonly defaultBackupEligibility?: boolean;
  /** BS flag on new credentials. */
  readonly defaultBackupState?: boolean;
}

async function readCredentials(cdp: CDPSession, authenticatorId: string) {
  return (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
}

/** A credential as CDP exports it: the private key included, so it can be copied to another tab. */
export type WebAuthnCredential = Awaited<ReturnType<typeof readCredentials>>[number];

/** A virtual platform authenticator attached to one tab. */
export interface VirtualAuthenticator {
  readonly cdp: CDPSession;
  readonly authenticatorId: string;
  credentials(): Promise<WebAuthnCredential[]>;
  addCredential(credential: WebAuthnCredential): Promise<void>;
}

/**
 * Attaches a virtual authenticator to the page: a user-verifying platform authenticator that
 * keeps discoverable credentials and answers as soon as it is asked, unless `options` say otherwise.
 */
export async function addVirtualAuthenticator(page: Page, options: AuthenticatorOptions = {}): Promise<VirtualAuthenticator> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
      ...options,
    },
  });
  return {
    cdp,
    authenticatorId,
    async credentials() {
      return readCredentials(cdp, authenticatorId);
    },
    async addCredential(credential) {
      await cdp.send('WebAuthn.addCredential', { authenticatorId, credential });
    },
  };
}

/**
 * Puts credentials read from another tab's authenticator (WebAuthn.getCredentials) into this one,
 * e.g. to sign in from a fresh, signed-out browser profile. Read them after their last use: a
 * stale copy reports an old signature counter, which the server rightly refuses.
 */
export async function addCredentials(to: VirtualAuthenticator, credentials: readonly WebAuthnCredential[]): Promise<void> {
  for (const credential of credentials) await to.addCredential(credential);
}

/**
 * Sign-up as a person does it, from the sign-in page: "Create account", email, the mailed code,
 * "Create a passkey". Stops once the passkey request has been made (the caller asserts what follows).
 */
export async function signUpUntilPasskey(page: Page, server: TestServer, email: string): Promise<void> {
  await page.getByRole('link', { name: 'Create account' }).click();
  await expectPage(page, 'Create account');
  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Send code' }).click();
  await expectPage(page, 'Check your email');
  await page.getByLabel('Code').fill(server.mailbox.lastCode(email));
  await page.getByRole('button', { name: 'Confirm email' }).click();
  await expectPage(page, 'Create a passkey');
  await page.getByRole('button', { name: 'Create a passkey' }).click();
}

/**
 * A person onboarded as an operator's backend does it: a user made through the management API
 * (by `admin`, a client allowed `users:write enrollments:write`), then the enrollment link opened
 * in a fresh browser context that creates the passkey. The page is left on "Your passkey is ready".
 */
export async function enrollInBrowser(
  browser: Browser,
  server: TestServer,
  admin: ClientMetadata,
  email: string,
): Promise<{ userId: string; context: BrowserContext; page: Page }> {
  const token = await apiToken(server, admin, 'users:write enrollments:write');
  const user = (await (await api(server, token, 'POST', '/users', { email })).json()) as { id: string };
  const link = (await (await api(server, token, 'POST', `/users/${user.id}/enrollment-links`, {})).json()) as { url: string };
  const context = await newContext(browser);
  await disablePasskeyAutofill(context);
  const page = await context.newPage();
  await addVirtualAuthenticator(page);
  await page.goto(link.url);
  await page.getByRole('button', { name: 'Create a passkey' }).click();
  await expectPage(page, 'Your passkey is ready');
  return { userId: user.id, context, page };
}

/** Full sign-up through consent; returns the URL the browser lands on at the application. */
export async function signUp(page: Page, server: TestServer, app: CallbackServer, email: string): Promise<URL> {
  await signUpUntilPasskey(page, server, email);
  await expectPage(page, /^Allow /);
  await page.getByRole('button', { name: 'Allow' }).click();
  return waitForApplication(page, app);
}

/**
 * After a sign-in: lands at the application, accepting the consent page on the way if Latchkey
 * shows one. Says whether it did.
 */
export async function finishAtApplication(page: Page, app: CallbackServer): Promise<{ url: URL; consented: boolean }> {
  const atApplication = page.waitForURL((url) => url.origin === app.origin && url.pathname === '/callback').then(() => 'application' as const);
  const atConsent = page.getByRole('heading', { name: /^Allow / }).waitFor().then(() => 'consent' as const);
  // Whichever comes first; the other one's outcome does not matter.
  atApplication.catch(() => undefined);
  atConsent.catch(() => undefined);
  const first = await Promise.race([atApplication, atConsent]).catch(() => 'neither' as const);
  if (first === 'consent') {
    await page.getByRole('button', { name: 'Allow' }).click();
    return { url: await waitForApplication(page, app), consented: true };
  }
  return { url: await waitForApplication(page, app), consented: false };
}

/** The sign-in page is showing (the person is not silently signed in). */
export async function expectSignInPage(page: Page, server: TestServer): Promise<void> {
  await expectPage(page, 'Sign in');
  assert.equal(new URL(page.url()).origin, server.issuer, `expected Latchkey's sign-in page, got ${page.url()}`);
  assert.match(new URL(page.url()).pathname, /^\/interaction\/[^/]+$/);
}

/** The visible alert's text (role=alert), once it says something. */
export async function alertText(page: Page): Promise<string> {
  const alert = page.getByRole('alert');
  await alert.waitFor({ state: 'visible' });
  return (await alert.textContent())?.trim() ?? '';
}

/** The element that has the keyboard focus, as a keyboard user meets it, with how its focus shows. */
export interface FocusedElement {
  readonly tag: string;
  readonly id: string;
  /** Its visible text (for a control, its text content). */
  readonly text: string;
  /** A short accessible name: aria-label, else its label's text, else its text. */
  readonly name: string;
  readonly focusVisible: boolean;
  readonly outlineStyle: string;
  readonly outlineWidth: number;
  readonly outlineColor: string;
}

/** The focused element, or null when the focus is on nothing (the document's body). */
export async function focusedElement(page: Page): Promise<FocusedElement | null> {
  // A string, not a function: tsx would compile a function with helpers the page lacks.
  return page.evaluate(`(() => {
    const e = document.activeElement;
    if (!e || e === document.body || e === document.documentElement) return null;
    const style = getComputedStyle(e);
    const text = (e.textContent || '').trim().replace(/\\s+/g, ' ');
    const label = e.getAttribute('aria-label') || (e.labels && e.labels[0] ? e.labels[0].textContent.trim() : '') || text;
    return {
      tag: e.tagName.toLowerCase(), id: e.id, text, name: label,
      focusVisible: e.matches(':focus-visible'),
      outlineStyle: style.outlineStyle, outlineWidth: parseFloat(style.outlineWidth), outlineColor: style.outlineColor,
    };
  })()`);
}

/** One line naming a focused element in a failure message: `button "Allow"`, `input#code "Code"`. */
export function describeFocused(element: FocusedElement | null): string {
  return element ? `${element.tag}${element.id ? `#${element.id}` : ''} "${element.name}"` : '(nothing: the page itself)';
}

/**
 * The focused element shows a visible focus indicator (WCAG 2.4.7): it matches :focus-visible
 * and draws an outline of at least 2 px in a colour that is not transparent.
 */
export function assertVisibleFocus(element: FocusedElement | null): asserts element is FocusedElement {
  assert.ok(element, 'the focus is on a control');
  const what = describeFocused(element);
  assert.ok(element.focusVisible, `${what} matches :focus-visible`);
  assert.notEqual(element.outlineStyle, 'none', `${what} shows an outline when focused`);
  assert.ok(element.outlineWidth >= 2, `${what} outline is at least 2px (${element.outlineWidth}px)`);
  assert.doesNotMatch(element.outlineColor, /^(transparent|rgba\(.*,\s*0\))$/, `${what} outline has a colour (${element.outlineColor})`);
}

/** What a browser suite runs against: Latchkey, an application receiving its callbacks, that application's registration, and Chromium. */
export interface BrowserSuite {
  server: TestServer;
  app: CallbackServer;
  rp: oidc.Configuration;
  browser: Browser;
}

/**
 * Starts a browser suite; `clientMetadata` is added to the application's registration,
 * `clients` are configured as a clients file would (backends, devices), and `env` is Latchkey's.
 */
export async function startBrowserSuite(
  clientMetadata: Record<string, unknown> = {},
  options: { clients?: ClientMetadata[]; env?: Record<string, string> } = {},
): Promise<BrowserSuite> {
  const server = await startLatchkey({ ...(options.clients ? { clients: options.clients } : {}), ...(options.env ? { env: options.env } : {}) });
  const app = await startCallbackServer();
  const rp = await registerRelyingParty(server, {
    redirect_uris: [app.redirectUri],
    post_logout_redirect_uris: [app.postLogoutRedirectUri],
    ...clientMetadata,
  });
  return { server, app, rp, browser: await launchBrowser() };
}

/**
 * Fresh browser profiles (no cookies, no passkeys) for a suite's tests, without passkey
 * autofill unless asked; `closeAll()` after each test closes them.
 */
export class Profiles {
  private open: BrowserContext[] = [];

  constructor(private readonly browser: () => Browser) {}

  async fresh(options: { autofill?: boolean } = {}): Promise<BrowserContext> {
    const context = await newContext(this.browser());
    this.open.push(context);
    if (!options.autofill) await disablePasskeyAutofill(context);
    return context;
  }

  async closeAll(): Promise<void> {
    const open = this.open;
    this.open = [];
    await Promise.all(open.map((context) => context.close()));
  }
}

/** Stops whatever part of a browser suite was started (a failed start leaves some parts undefined). */
export async function stopBrowserSuite(suite: Partial<BrowserSuite>): Promise<void> {
  await suite.browser?.close();
  await suite.app?.close();
  await suite.server?.close();
}
