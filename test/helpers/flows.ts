import assert from 'node:assert/strict';
import type { TestServer } from './app.ts';
import { csrfTokenOf, HttpClient } from './http.ts';
import { authorizationRequest, redeem } from './rp.ts';
import { SoftwareAuthenticator } from './authenticator.ts';
import type * as oidc from 'openid-client';

/** Where a flow stands on a Latchkey page: the interaction and the page's CSRF token. */
export interface PageState {
  readonly uid: string;
  readonly csrf: string;
  readonly html: string;
}

/** Opens an authorization URL and follows it to the hosted page it lands on. */
export async function openInteraction(http: HttpClient, authorizationUrl: string): Promise<PageState> {
  const { response, url } = await http.follow(authorizationUrl);
  const uid = new URL(url).pathname.match(/^\/interaction\/([^/]+)/)?.[1];
  assert.ok(uid, `expected an interaction page, landed on ${url} (${response.status})`);
  const html = await response.text();
  return { uid, csrf: csrfTokenOf(html), html };
}

export async function postJson(http: HttpClient, page: PageState, path: string, body: unknown): Promise<Response> {
  return http.request('POST', `/interaction/${page.uid}${path}`, { body, headers: { 'x-csrf-token': page.csrf } });
}

export async function postForm(http: HttpClient, page: PageState, path: string, form: Record<string, string>): Promise<Response> {
  return http.request('POST', `/interaction/${page.uid}${path}`, { form: { csrf: page.csrf, ...form } });
}

/**
 * Follows a redirect from a finished step until the flow leaves Latchkey, accepting the
 * consent page if it appears. Returns the URL the browser would land on at the application.
 */
export async function finishAtApplication(http: HttpClient, redirectTo: string, options: { consent?: boolean } = {}): Promise<string> {
  const { response, url } = await http.follow(redirectTo);
  if (new URL(url).origin !== http.origin) return url;
  const html = await response.text();
  assert.match(html, /Allow/, `expected the consent page at ${url}`);
  assert.notEqual(options.consent, false, 'consent page shown where none was expected');
  const page = { uid: new URL(url).pathname.split('/')[2]!, csrf: csrfTokenOf(html), html };
  const consent = await postForm(http, page, '/consent', {});
  assert.equal(consent.status, 303);
  return finishAtApplication(http, consent.headers.get('location')!, options);
}

/** Sign-up over HTTP: email → code from the mailbox → create a passkey. Returns the next URL. */
export async function signUp(http: HttpClient, server: TestServer, authenticator: SoftwareAuthenticator, page: PageState, email: string): Promise<string> {
  const started = await postForm(http, page, '/signup', { email });
  assert.equal(started.status, 303, `sign-up start answered ${started.status}`);
  const verified = await postForm(http, page, '/signup/code', { code: server.mailbox.lastCode(email) });
  assert.equal(verified.status, 303, `code check answered ${verified.status}`);
  const options = await postJson(http, page, '/signup/passkey/options', {});
  assert.equal(options.status, 200);
  const credential = authenticator.createCredential(await options.json());
  const done = await postJson(http, page, '/signup/passkey/verify', credential);
  const body = (await done.json()) as { redirectTo?: string; code?: string };
  assert.equal(done.status, 200, `registration answered ${done.status} ${body.code}`);
  return body.redirectTo!;
}

/** "Sign in with a passkey" over HTTP (optionally username-first). Returns the response of the verify call. */
export async function signInWithPasskey(http: HttpClient, authenticator: SoftwareAuthenticator, page: PageState, options: { email?: string } = {}): Promise<Response> {
  const res = await postJson(http, page, '/passkey/options', options.email ? { email: options.email } : {});
  assert.equal(res.status, 200);
  return postJson(http, page, '/passkey/verify', authenticator.getAssertion(await res.json()));
}

/** Signs a new person up and back in with their passkey; returns tokens of the passkey sign-in. */
export async function signedInUser(server: TestServer, rp: oidc.Configuration, email: string, params: Record<string, string> = {}) {
  const http = new HttpClient(server.issuer);
  const authenticator = new SoftwareAuthenticator({ origin: server.issuer });
  const signup = await authorizationRequest(rp);
  await finishAtApplication(http, await signUp(http, server, authenticator, await openInteraction(http, signup.url.href), email));
  const browser = new HttpClient(server.issuer);
  const request = await authorizationRequest(rp, { scope: 'openid email offline_access', prompt: 'login consent', ...params });
  const verified = await signInWithPasskey(browser, authenticator, await openInteraction(browser, request.url.href));
  const callback = await finishAtApplication(browser, ((await verified.json()) as { redirectTo: string }).redirectTo);
  return { http: browser, authenticator, request, callback, tokens: await redeem(rp, request, callback) };
}
