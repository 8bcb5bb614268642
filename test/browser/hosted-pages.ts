/**
 * A walk through every hosted page a person can reach, for checks that apply to all of them
 * (the accessibility audit, screenshots). The walk is a real one: a sign-up, consent, step-up,
 * the account page, a device connected with a code, logout, an error page, recovery on another
 * device, an enrollment link and a backchannel approval, each page reached by roles and
 * accessible names as in the other browser tests. A few pages are visited again in German or
 * Spanish, whose longer words test the layout. At each stop the callback runs on
 * the page as it is; it must leave the page where it found it.
 */
import type { ClientMetadata } from 'oidc-provider';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type * as oidc from 'openid-client';
import type { TestServer } from '../helpers/app.ts';
import { api, apiClient, apiToken, cibaClient } from '../helpers/api.ts';
import { authorizationRequest } from '../helpers/rp.ts';
import {
  addVirtualAuthenticator,
  disablePasskeyAutofill,
  expectPage,
  expectSignInPage,
  newContext,
  STEP_TIMEOUT,
  waitForApplication,
  type CallbackServer,
} from './helpers.ts';

/** One page on the walk: a short, file-name-safe name and the tab showing it. */
export interface Stop {
  readonly name: string;
  readonly page: Page;
}

export interface Walk {
  readonly browser: Browser;
  readonly server: TestServer;
  readonly app: CallbackServer;
  readonly rp: oidc.Configuration;
}

/** A small square logo (an inlined SVG, as a client may register it) for the walk's application. */
const WALK_LOGO = `data:image/svg+xml;base64,${Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40"><rect width="40" height="40" rx="8" fill="#6b3fa0"/><path d="M12 28V12h6l4 9 4-9h2v16h-4v-8l-3 7h-2l-3-7v8z" fill="#fff"/></svg>',
).toString('base64')}`;

/** The client metadata the walk's relying party registers with: a logo, and policy and terms links shown on the pages. */
export const WALK_CLIENT_METADATA = {
  logo_data_uri: WALK_LOGO,
  policy_uri: 'https://app.example.com/privacy',
  tos_uri: 'https://app.example.com/terms',
};

/** The clients the walk's server is configured with (clients file): a TV, a bank backend (CIBA) and an HR backend (enrollment links). */
export const WALK_CLIENTS: ClientMetadata[] = [
  {
    client_id: 'walk-tv',
    client_name: 'Living Room TV',
    token_endpoint_auth_method: 'none',
    grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
    response_types: [],
    redirect_uris: [],
  },
  cibaClient('walk-bank', {
    logo_data_uri: `data:image/svg+xml;base64,${Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40"><rect width="40" height="40" rx="20" fill="#0a6e3c"/></svg>').toString('base64')}`,
    policy_uri: 'https://bank.example/privacy',
  }),
  { ...apiClient('walk-hr', 'users:write enrollments:write'), client_name: 'Acme HR' },
];

/** Every page the walk stops at, in order (names as given to the callback). */
export const STOPS = [
  'sign-in',
  'sign-in-error',
  'sign-up-email',
  'sign-up-code',
  'sign-up-code-error',
  'create-passkey',
  'consent',
  'step-up',
  'account',
  'account-signed-out',
  'device-code',
  'device-confirm',
  'device-done',
  'logout',
  'logged-out',
  'error',
  'sign-in-de',
  'recovery-email',
  'recovery-code',
  'recovery-passkey',
  'enroll',
  'enroll-es',
  'approve',
  'approve-de',
] as const;

/** A new browser profile with a virtual authenticator; `locale` sets its Accept-Language. */
async function freshPage(browser: Browser, contexts: BrowserContext[], locale?: string): Promise<Page> {
  const context = locale ? await browser.newContext({ locale }) : await newContext(browser);
  if (locale) {
    context.setDefaultTimeout(STEP_TIMEOUT);
    context.setDefaultNavigationTimeout(STEP_TIMEOUT);
  }
  contexts.push(context);
  await disablePasskeyAutofill(context);
  const page = await context.newPage();
  await addVirtualAuthenticator(page);
  return page;
}

/** Settles a page before it is looked at: fonts, deferred scripts, no pending focus. */
async function settle(page: Page): Promise<void> {
  await page.waitForLoadState('load');
  await page.evaluate(() => document.fonts.ready.then(() => undefined));
}

/** Walks every hosted page; `visit` runs at each one. Closes the tabs it opened. */
export async function walkHostedPages(walk: Walk, visit: (stop: Stop) => Promise<void>): Promise<void> {
  const { browser, server, app, rp } = walk;
  const contexts: BrowserContext[] = [];
  const stop = async (name: (typeof STOPS)[number], page: Page) => {
    await settle(page);
    await visit({ name, page });
  };
  const newRequest = (params: Record<string, string> = {}) => authorizationRequest(rp, { redirect_uri: app.redirectUri, ...params });
  const email = `walker-${Date.now()}@example.com`;

  try {
    const page = await freshPage(browser, contexts);

    // Sign-in, and its alert (the email form sent empty).
    await page.goto((await newRequest()).url.href);
    await expectSignInPage(page, server);
    await stop('sign-in', page);
    await page.getByRole('button', { name: 'Continue with email' }).click();
    await page.getByRole('alert').waitFor({ state: 'visible' });
    await stop('sign-in-error', page);

    // Sign-up: email, code (and a wrong one), create a passkey, consent.
    await page.getByRole('link', { name: 'Create account' }).click();
    await expectPage(page, 'Create account');
    await stop('sign-up-email', page);
    await page.getByLabel('Email').fill(email);
    await page.getByRole('button', { name: 'Send code' }).click();
    await expectPage(page, 'Check your email');
    await stop('sign-up-code', page);
    const code = server.mailbox.lastCode(email);
    const wrong = code === '000000' ? '111111' : '000000';
    await page.getByLabel('Code').fill(wrong);
    await page.getByRole('button', { name: 'Confirm email' }).click();
    await page.getByRole('alert').waitFor({ state: 'visible' });
    await stop('sign-up-code-error', page);
    await page.getByLabel('Code').fill(code);
    await page.getByRole('button', { name: 'Confirm email' }).click();
    await expectPage(page, 'Create a passkey');
    await stop('create-passkey', page);
    await page.getByRole('button', { name: 'Create a passkey' }).click();
    await expectPage(page, /^Allow /);
    await stop('consent', page);
    await page.getByRole('button', { name: 'Allow' }).click();
    await waitForApplication(page, app);

    // Signed in: the application asks for a fresh sign-in.
    await page.goto((await newRequest({ prompt: 'login' })).url.href);
    await expectPage(page, 'Confirm it’s you');
    await stop('step-up', page);

    await page.goto(server.url('/account'));
    await expectPage(page, 'Your account');
    await stop('account', page);
    await page.goto(server.url('/account/signed-out'));
    await expectPage(page, 'You are signed out');
    await stop('account-signed-out', page);

    // A TV shows a code; the signed-in person enters it, checks it, allows the TV.
    const device = (await (await fetch(server.url('/device/auth'), { method: 'POST', body: new URLSearchParams({ client_id: 'walk-tv', scope: 'openid' }) })).json()) as { user_code: string };
    await page.goto(server.url('/device'));
    await expectPage(page, 'Connect a device');
    await stop('device-code', page);
    await page.getByLabel('Code').fill(device.user_code);
    await page.getByRole('button', { name: 'Continue' }).click();
    await expectPage(page, 'Connect Living Room TV?');
    await stop('device-confirm', page);
    await page.getByRole('button', { name: 'Continue' }).click();
    await expectPage(page, 'Allow Living Room TV?');
    await page.getByRole('button', { name: 'Allow' }).click();
    await expectPage(page, 'Device connected');
    await stop('device-done', page);

    // Logout without an application to return to: the confirmation, then the signed-out page.
    await page.goto(server.url('/session/end'));
    await expectPage(page, /^Sign out/);
    await stop('logout', page);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expectPage(page, 'You are signed out');
    await stop('logged-out', page);

    // An error page: an authorization request from an unknown application.
    await page.goto(server.url('/auth?client_id=no-such-client&response_type=code&scope=openid'));
    await expectPage(page, 'Something went wrong');
    await stop('error', page);

    // Recovery, on another device (whose sign-in page is first seen in German).
    const other = await freshPage(browser, contexts);
    await other.goto((await newRequest({ ui_locales: 'de' })).url.href);
    await expectPage(other, 'Anmelden');
    await stop('sign-in-de', other);
    await other.goto((await newRequest()).url.href);
    await expectSignInPage(other, server);
    await other.getByRole('link', { name: 'Lost your passkey?' }).click();
    await expectPage(other, 'Lost your passkey?');
    await stop('recovery-email', other);
    await other.getByLabel('Email').fill(email);
    await other.getByRole('button', { name: 'Send code' }).click();
    await expectPage(other, 'Check your email');
    await stop('recovery-code', other);
    await other.getByLabel('Code').fill(server.mailbox.lastCode(email));
    await other.getByRole('button', { name: 'Confirm email' }).click();
    await expectPage(other, 'Create a new passkey');
    await stop('recovery-passkey', other);

    // An enrollment link from the HR backend, opened in English and in Spanish.
    const token = await apiToken(server, WALK_CLIENTS[2]!, 'users:write enrollments:write');
    const hire = (await (await api(server, token, 'POST', '/users', { email: `new-hire-${Date.now()}@example.com`, email_verified: true })).json()) as { id: string };
    const link = (await (await api(server, token, 'POST', `/users/${hire.id}/enrollment-links`, { invited_by: 'Acme IT' })).json()) as { url: string };
    const enrollee = await freshPage(browser, contexts);
    await enrollee.goto(link.url);
    await expectPage(enrollee, 'Create a passkey');
    await stop('enroll', enrollee);
    const spanish = await freshPage(browser, contexts, 'es-ES');
    await spanish.goto(link.url);
    await expectPage(spanish, 'Crear una llave de acceso');
    await stop('enroll-es', spanish);

    // The bank asks the walker to approve a transfer; the mailed link, in English and in German.
    const bank = WALK_CLIENTS[1]!;
    const requested = await fetch(server.url('/backchannel'), {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${bank.client_id}:${bank.client_secret}`).toString('base64')}` },
      body: new URLSearchParams({
        scope: 'openid',
        login_hint: email,
        binding_message: 'Pay 42.00 EUR to Walk Shop',
        authorization_details: JSON.stringify([{ type: 'transfer', amount: '42.00', currency: 'EUR', payee: 'Walk Shop', reference: 'Order 7' }]),
      }),
    });
    if (requested.status !== 200) throw new Error(`backchannel request answered ${requested.status}: ${await requested.text()}`);
    const approval = server.mailbox.sent.filter((m) => m.to === email).at(-1)!.text.match(/https?:\/\/\S+\/approve\/[A-Za-z0-9_-]+/)![0];
    await other.goto(approval);
    await expectPage(other, 'Approve a request from Example Bank');
    await stop('approve', other);
    const german = await freshPage(browser, contexts, 'de-DE');
    await german.goto(approval);
    await expectPage(german, 'Anfrage von Example Bank genehmigen');
    await stop('approve-de', german);
  } finally {
    await Promise.all(contexts.map((context) => context.close()));
  }
}
