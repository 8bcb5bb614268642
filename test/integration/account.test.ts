/**
 * The self-service account page (/account) over real HTTP: signing in to Latchkey itself,
 * passkeys (names, models, add and remove behind a fresh passkey ceremony, mails, the Signal
 * API data), sessions and application grants, and the defences around every change.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { projectRoot } from '../../src/paths.ts';
import { SoftwareAuthenticator } from '../helpers/authenticator.ts';
import { startLatchkey, type TestServer } from '../helpers/app.ts';
import { finishAtApplication, openInteraction, postJson, signInWithPasskey, signUp } from '../helpers/flows.ts';
import { csrfTokenOf, HttpClient } from '../helpers/http.ts';
import { authorizationRequest, redeem, registerRelyingParty } from '../helpers/rp.ts';

/** The community AAGUID list the workspace shares (read in place, never copied into the repository). */
const AAGUIDS_FILE = join(projectRoot, '..', 'shared', 'data', 'passkey-aaguids.json');
const HAVE_AAGUIDS = existsSync(AAGUIDS_FILE);
const AAGUIDS = HAVE_AAGUIDS ? (JSON.parse(readFileSync(AAGUIDS_FILE, 'utf8')) as Record<string, { name: string; icon_light?: string }>) : {};
/** A synced passkey provider and a device-bound one from that list. */
const SYNCED_AAGUID = 'ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4';
const DEVICE_AAGUID = 'adce0002-35bc-c60a-648b-0b25f1f05503';
const TEN_MINUTES = 10 * 60 * 1000;

interface Person {
  readonly email: string;
  readonly authenticator: SoftwareAuthenticator;
  /** A browser signed in to the account page with a passkey, just now. */
  readonly browser: HttpClient;
}

interface AccountPage {
  readonly status: number;
  readonly html: string;
  readonly csrf: string;
}

async function accountPage(http: HttpClient): Promise<AccountPage> {
  const response = await http.get('/account');
  const html = await response.text();
  assert.equal(response.status, 200, `GET /account answered ${response.status}`);
  return { status: response.status, html, csrf: csrfTokenOf(html) };
}

/** Follows a redirect chain to where it lands inside Latchkey. */
async function land(http: HttpClient, location: string): Promise<{ url: string; html: string; status: number }> {
  const { response, url } = await http.follow(location);
  return { url, html: await response.text(), status: response.status };
}

function passkeyIds(html: string): string[] {
  return [...html.matchAll(/data-passkey-id="([^"]+)"/g)].map((m) => m[1]!);
}

function sessionUids(html: string): { uid: string; current: boolean }[] {
  return [...html.matchAll(/data-session="([^"]+)"( data-current="true")?/g)].map((m) => ({ uid: m[1]!, current: Boolean(m[2]) }));
}

/** The <li> of one passkey on the page. */
function passkeyItem(html: string, id: string): string {
  const start = html.indexOf(`data-passkey-id="${id}"`);
  assert.ok(start >= 0, `passkey ${id} is on the page`);
  return html.slice(start, html.indexOf('</li>', start));
}

function signals(html: string): { rpId: string; userId: string; accepted: string[]; removed?: string } {
  const tag = html.match(/<div id="webauthn-signals"[^>]*>/)?.[0];
  assert.ok(tag, 'the page carries the Signal API data');
  const attr = (name: string) => tag.match(new RegExp(`${name}="([^"]*)"`))?.[1]?.replaceAll('&quot;', '"');
  return { rpId: attr('data-rp-id')!, userId: attr('data-user-id')!, accepted: JSON.parse(attr('data-accepted-credential-ids')!), removed: attr('data-removed-credential-id') };
}

describe('account page', () => {
  let server: TestServer;

  async function form(http: HttpClient, path: string, fields: Record<string, string>, csrf?: string): Promise<Response> {
    return http.request('POST', path, { form: { ...(csrf ? { csrf } : {}), ...fields } });
  }

  async function json(http: HttpClient, path: string, body: unknown, csrf: string): Promise<Response> {
    return http.request('POST', path, { body, headers: { 'x-csrf-token': csrf } });
  }

  /** Signs up on the account page itself: the session is at the email-code level. */
  async function signUpAtAccount(email: string, authenticator: SoftwareAuthenticator): Promise<HttpClient> {
    const http = new HttpClient(server.issuer);
    const page = await openInteraction(http, server.url('/account'));
    const next = await signUp(http, server, authenticator, page, email);
    const landed = await land(http, next);
    assert.equal(new URL(landed.url).pathname, '/account');
    return http;
  }

  /** Signs in to the account page with a passkey in a new browser. */
  async function signInAtAccount(authenticator: SoftwareAuthenticator): Promise<HttpClient> {
    const http = new HttpClient(server.issuer);
    const page = await openInteraction(http, server.url('/account'));
    const verified = await signInWithPasskey(http, authenticator, page);
    assert.equal(verified.status, 200);
    const landed = await land(http, ((await verified.json()) as { redirectTo: string }).redirectTo);
    assert.equal(new URL(landed.url).pathname, '/account', `landed on ${landed.url}`);
    return http;
  }

  /** Signs in as a passkey ceremony of ten minutes ago: too old to change passkeys. */
  async function staleSignIn(authenticator: SoftwareAuthenticator): Promise<HttpClient> {
    server.advanceClock(-TEN_MINUTES);
    try {
      return await signInAtAccount(authenticator);
    } finally {
      server.advanceClock(TEN_MINUTES);
    }
  }

  async function person(email: string, options: { backupEligible?: boolean; aaguid?: string } = {}): Promise<Person> {
    const authenticator = new SoftwareAuthenticator({ origin: server.issuer, ...options });
    await signUpAtAccount(email, authenticator);
    return { email, authenticator, browser: await signInAtAccount(authenticator) };
  }

  /** "Add a passkey" as account.js does it. */
  async function addPasskey(http: HttpClient, authenticator: SoftwareAuthenticator, extra: Record<string, unknown> = {}): Promise<Response> {
    const { csrf } = await accountPage(http);
    const options = await json(http, '/account/passkeys/options', {}, csrf);
    assert.equal(options.status, 200, `options answered ${options.status}`);
    return json(http, '/account/passkeys/verify', { ...authenticator.createCredential(await options.json()), ...extra }, csrf);
  }

  /** Re-authenticates through /account/reauth and the step-up page; returns the account page after. */
  async function reauthenticate(http: HttpClient, authenticator: SoftwareAuthenticator): Promise<string> {
    const started = await http.get('/account/reauth');
    assert.equal(started.status, 303);
    const auth = new URL(started.headers.get('location')!, server.issuer);
    assert.equal(auth.pathname, '/auth');
    assert.equal(auth.searchParams.get('max_age'), '0');
    assert.equal(auth.searchParams.get('client_id'), 'latchkey-account');
    const page = await openInteraction(http, auth.href);
    assert.match(page.html, /Confirm it’s you/);
    const options = await postJson(http, page, '/passkey/options', {});
    const verified = await postJson(http, page, '/passkey/verify', authenticator.getAssertion(await options.json()));
    assert.equal(verified.status, 200);
    const landed = await land(http, ((await verified.json()) as { redirectTo: string }).redirectTo);
    assert.equal(new URL(landed.url).pathname, '/account');
    return landed.html;
  }

  function mailsTo(email: string) {
    return server.mailbox.sent.filter((m) => m.to === email);
  }

  before(async () => {
    server = await startLatchkey({ env: HAVE_AAGUIDS ? { LATCHKEY_AUTHENTICATOR_METADATA: AAGUIDS_FILE } : {} });
  });
  after(() => server.close());

  describe('signing in to the account page', () => {
    it('sends a signed-out browser to sign in as the built-in client, with PKCE and state', async () => {
      const http = new HttpClient(server.issuer);
      const response = await http.get('/account');
      assert.equal(response.status, 303);
      const location = new URL(response.headers.get('location')!, server.issuer);
      assert.equal(location.pathname, '/auth');
      assert.equal(location.searchParams.get('client_id'), 'latchkey-account');
      assert.equal(location.searchParams.get('response_type'), 'code');
      assert.equal(location.searchParams.get('redirect_uri'), server.url('/account/callback'));
      assert.equal(location.searchParams.get('code_challenge_method'), 'S256');
      assert.match(location.searchParams.get('code_challenge')!, /^[A-Za-z0-9_-]{43}$/);
      assert.ok(location.searchParams.get('state'));
      assert.equal(location.searchParams.get('max_age'), null, 'a plain sign-in, not a re-authentication');
      const page = await openInteraction(http, location.href);
      assert.match(page.html, /Sign in/);
    });

    it('signed-out POSTs change nothing: JSON gets 401, a form goes back to sign in', async () => {
      const http = new HttpClient(server.issuer);
      const { html } = await land(http, '/account');
      const csrf = csrfTokenOf(html);
      const options = await json(http, '/account/passkeys/options', {}, csrf);
      assert.equal(options.status, 401);
      assert.equal(((await options.json()) as { code: string }).code, 'account_sign_in_required');
      const rename = await form(http, '/account/passkeys/rename', { passkey: 'x', name: 'y' }, csrf);
      assert.equal(rename.status, 303);
      assert.equal(rename.headers.get('location'), '/account');
    });

    it('the callback only accepts the state of the sign-in this browser started', async () => {
      const http = new HttpClient(server.issuer);
      await http.get('/account');
      const forged = await http.get('/account/callback?code=abc&state=not-the-state');
      assert.equal(forged.status, 400);
      assert.match(await forged.text(), /expired or was started in another tab/);
    });

    it('a cancelled sign-in comes back as a page that says so', async () => {
      const http = new HttpClient(server.issuer);
      const page = await openInteraction(http, server.url('/account'));
      const cancelled = await http.request('POST', `/interaction/${page.uid}/abort`, { form: { csrf: page.csrf } });
      const landed = await land(http, cancelled.headers.get('location')!);
      assert.equal(new URL(landed.url).pathname, '/account/callback');
      assert.equal(landed.status, 400);
      assert.match(landed.html, /You cancelled signing in/);
    });
  });

  describe('passkeys', () => {
    let ada: Person;

    before(async () => {
      ada = await person('ada@example.com', { backupEligible: true, aaguid: SYNCED_AAGUID });
    });

    it('lists each passkey with its name, model, created and last-used times, and whether it is synced', async () => {
      const { html } = await accountPage(ada.browser);
      assert.match(html, /Signed in as <strong>ada@example.com<\/strong>/);
      const [id] = passkeyIds(html);
      assert.equal(id, ada.authenticator.credentials[0]!.id);
      const item = passkeyItem(html, id!);
      if (HAVE_AAGUIDS) {
        const model = AAGUIDS[SYNCED_AAGUID]!.name;
        assert.match(item, new RegExp(`<dd class="passkey-model">${model}</dd>`));
        assert.match(item, new RegExp(`<h3 id="passkey-1-name">${model}</h3>`), 'named after its model until renamed');
        assert.match(item, /<img src="data:image\//, 'the model icon, as a data: URI');
      }
      assert.match(item, /<dd class="passkey-kind"[^>]*>Synced<\/dd>/);
      assert.match(item, /<dd class="passkey-created"><time datetime="\d{4}-\d\d-\d\dT[^"]+">[^<]+ UTC<\/time><\/dd>/);
      assert.match(item, /<dd class="passkey-last-used"><time datetime=/, 'the sign-in used it');
      for (const [, src] of html.matchAll(/<(?:img src|source srcset)="([^"]*)"/g)) assert.ok(src!.startsWith('data:image/'), 'only data: icons');
    });

    it('renames a passkey; names are escaped on the page, bounded and trimmed', async () => {
      const id = ada.authenticator.credentials[0]!.id;
      let { csrf } = await accountPage(ada.browser);
      const renamed = await form(ada.browser, '/account/passkeys/rename', { passkey: id, name: '  <script>alert("x")</script> & my   phone ' }, csrf);
      assert.equal(renamed.status, 303);
      assert.equal(renamed.headers.get('location'), '/account');
      const after = await accountPage(ada.browser);
      assert.match(after.html, /Passkey renamed/);
      assert.ok(!after.html.includes('<script>alert'), 'never raw HTML');
      assert.match(passkeyItem(after.html, id), /<h3 id="passkey-1-name">&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt; &amp; my phone<\/h3>/);
      const row = await server.db('passkeys').where({ id }).first('name');
      assert.equal(row.name, '<script>alert("x")</script> & my phone');

      csrf = after.csrf;
      for (const name of ['x'.repeat(65), '   ', '']) {
        const refused = await form(ada.browser, '/account/passkeys/rename', { passkey: id, name }, csrf);
        assert.equal(refused.status, 400, `name of ${name.length} characters`);
        assert.match(await refused.text(), /<div role="alert" class="status error" id="page-error" tabindex="-1" autofocus><p>(A passkey name can be at most 64|Enter a name)/);
      }
      const exactly = await form(ada.browser, '/account/passkeys/rename', { passkey: id, name: 'é'.repeat(64) }, csrf);
      assert.equal(exactly.status, 303, '64 characters is fine');
      assert.equal((await server.db('passkeys').where({ id }).first('name')).name, 'é'.repeat(64));
      const problem = await json(ada.browser, '/account/passkeys/rename', { passkey: id, name: 'x'.repeat(65) }, csrf);
      assert.equal(problem.status, 400);
      assert.equal(((await problem.json()) as { code: string }).code, 'invalid_passkey_name');
    });

    it('adding a passkey needs a fresh passkey ceremony: a stale session goes through max_age=0 first', async () => {
      const stale = await staleSignIn(ada.authenticator);
      const { csrf, html } = await accountPage(stale);
      assert.match(html, /First you will confirm it’s you/);
      const refused = await json(stale, '/account/passkeys/options', {}, csrf);
      assert.equal(refused.status, 401);
      assert.equal(((await refused.json()) as { code: string }).code, 'reauthentication_required');
      const after = await reauthenticate(stale, ada.authenticator);
      assert.match(after, /Thanks for confirming it’s you/);
      const phone = new SoftwareAuthenticator({ origin: server.issuer, aaguid: DEVICE_AAGUID });
      const mailsBefore = mailsTo(ada.email).length;
      const added = await addPasskey(stale, phone);
      assert.equal(added.status, 200, await added.clone().text());
      assert.deepEqual(await added.json(), { redirectTo: '/account', passkey: { id: phone.credentials[0]!.id, name: HAVE_AAGUIDS ? AAGUIDS[DEVICE_AAGUID]!.name : 'Passkey' } });
      const { html: page } = await accountPage(stale);
      assert.match(page, /Passkey added/);
      assert.deepEqual(passkeyIds(page), [ada.authenticator.credentials[0]!.id, phone.credentials[0]!.id]);
      const item = passkeyItem(page, phone.credentials[0]!.id);
      assert.match(item, /<dd class="passkey-kind"[^>]*>Device-bound<\/dd>/);
      assert.match(item, /<dd class="passkey-last-used">Never<\/dd>/);
      if (HAVE_AAGUIDS) assert.match(item, new RegExp(`<dd class="passkey-model">${AAGUIDS[DEVICE_AAGUID]!.name}</dd>`));
      const mails = mailsTo(ada.email).slice(mailsBefore);
      assert.equal(mails.length, 1);
      assert.match(mails[0]!.subject, /A passkey was added/);
      assert.match(mails[0]!.text, /\/account/);
      // The new passkey signs in.
      await signInAtAccount(phone);
    });

    it('a session at the email-code level cannot add a passkey, however recent', async () => {
      const grace = new SoftwareAuthenticator({ origin: server.issuer });
      const http = await signUpAtAccount('grace@example.com', grace);
      const { csrf } = await accountPage(http);
      const refused = await json(http, '/account/passkeys/options', {}, csrf);
      assert.equal(refused.status, 401);
      assert.equal(((await refused.json()) as { code: string }).code, 'reauthentication_required');
    });

    it('the new passkey belongs to the signed-in account and is excluded when it is already there', async () => {
      const { csrf } = await accountPage(ada.browser);
      const options = (await (await json(ada.browser, '/account/passkeys/options', {}, csrf)).json()) as {
        user: { id: string; name: string };
        excludeCredentials: { id: string }[];
      };
      const handle = (await server.db('accounts').where({ email: ada.email }).first('user_handle')).user_handle;
      assert.equal(options.user.id, handle);
      assert.equal(options.user.name, ada.email);
      assert.deepEqual(options.excludeCredentials.map((c) => c.id).sort(), passkeyIds((await accountPage(ada.browser)).html).sort());
      // A credential id that is already registered is refused.
      const again = new SoftwareAuthenticator({ origin: server.issuer });
      const credential = again.createCredential(
        (await (await json(ada.browser, '/account/passkeys/options', {}, csrf)).json()) as never,
        { credentialId: ada.authenticator.credentials[0]!.id },
      );
      const duplicate = await json(ada.browser, '/account/passkeys/verify', credential, csrf);
      assert.equal(duplicate.status, 409);
      assert.equal(((await duplicate.json()) as { code: string }).code, 'passkey_already_registered');
    });

    it('removing a lost device’s passkey signs out the browsers that signed in with it, and keeps this one', async () => {
      const ada = await person('lost-device@example.com');
      const laptop = new SoftwareAuthenticator({ origin: server.issuer });
      assert.equal((await addPasskey(ada.browser, laptop)).status, 200);
      // The phone that will be lost signs in again in a second browser; the laptop in a third.
      const elsewhere = await signInAtAccount(ada.authenticator);
      const onLaptop = await signInAtAccount(laptop);
      const phone = ada.authenticator.credentials[0]!.id;

      const removed = await form(onLaptop, '/account/passkeys/remove', { passkey: phone }, (await accountPage(onLaptop)).csrf);
      assert.equal(removed.status, 303);
      for (const browser of [ada.browser, elsewhere]) {
        const page = await browser.get('/account');
        await page.body?.cancel();
        assert.notEqual(page.status, 200, 'signed out: the account page asks to sign in again');
      }
      assert.equal((await onLaptop.get('/account')).status, 200, 'the browser that removed it stays signed in');
      const event = await server.db('events').where({ type: 'passkey.removed', account_id: (await server.db('accounts').where({ email: ada.email }).first('id')).id }).first('data');
      // The sign-up browser (which created that passkey) and the two that signed in with it.
      assert.equal(JSON.parse(String(event.data)).sessions_ended, 3);

      // Removing the passkey this very browser signed in with keeps it signed in (it just proved itself).
      const spare = new SoftwareAuthenticator({ origin: server.issuer });
      assert.equal((await addPasskey(onLaptop, spare)).status, 200);
      const own = await form(onLaptop, '/account/passkeys/remove', { passkey: laptop.credentials[0]!.id }, (await accountPage(onLaptop)).csrf);
      assert.equal(own.status, 303);
      assert.equal((await onLaptop.get('/account')).status, 200);
    });

    it('removing a passkey needs a fresh ceremony, mails the person, and hands the Signal API what it needs', async () => {
      const spare = new SoftwareAuthenticator({ origin: server.issuer });
      assert.equal((await addPasskey(ada.browser, spare)).status, 200);
      const id = spare.credentials[0]!.id;

      const stale = await staleSignIn(ada.authenticator);
      const refused = await form(stale, '/account/passkeys/remove', { passkey: id }, (await accountPage(stale)).csrf);
      assert.equal(refused.status, 303);
      assert.equal(refused.headers.get('location'), '/account/reauth', 'through re-authentication first');
      assert.ok(await server.db('passkeys').where({ id }).first(), 'nothing removed yet');

      const mailsBefore = mailsTo(ada.email).length;
      const removed = await form(ada.browser, '/account/passkeys/remove', { passkey: id }, (await accountPage(ada.browser)).csrf);
      assert.equal(removed.status, 303);
      assert.equal(removed.headers.get('location'), '/account');
      assert.equal(await server.db('passkeys').where({ id }).first(), undefined);
      const { html } = await accountPage(ada.browser);
      assert.match(html, /Passkey removed/);
      const data = signals(html);
      assert.equal(data.removed, id, 'signalUnknownCredential gets the removed credential');
      assert.equal(data.rpId, 'localhost');
      assert.equal(data.userId, (await server.db('accounts').where({ email: ada.email }).first('user_handle')).user_handle);
      assert.deepEqual(data.accepted, passkeyIds(html), 'signalAllAcceptedCredentials gets the passkeys that remain');
      assert.ok(!data.accepted.includes(id));
      assert.equal(signals((await accountPage(ada.browser)).html).removed, undefined, 'the removal is signalled once');
      const mails = mailsTo(ada.email).slice(mailsBefore);
      assert.equal(mails.length, 1);
      assert.match(mails[0]!.subject, /A passkey was removed/);

      // The removed passkey no longer signs in.
      const http = new HttpClient(server.issuer);
      const page = await openInteraction(http, server.url('/account'));
      const attempt = await signInWithPasskey(http, spare, page);
      assert.equal(((await attempt.json()) as { code: string }).code, 'passkey_unknown_credential');
    });

    it('refuses to rename or remove another account’s passkey, as if it did not exist', async () => {
      const bob = await person('bob@example.com');
      const bobs = bob.authenticator.credentials[0]!.id;
      const { csrf } = await accountPage(ada.browser);
      const remove = await json(ada.browser, '/account/passkeys/remove', { passkey: bobs }, csrf);
      assert.equal(remove.status, 404);
      assert.equal(((await remove.json()) as { code: string }).code, 'passkey_not_found');
      const removeForm = await form(ada.browser, '/account/passkeys/remove', { passkey: bobs }, csrf);
      assert.equal(removeForm.status, 404);
      assert.match(await removeForm.text(), /role="alert"/);
      const rename = await json(ada.browser, '/account/passkeys/rename', { passkey: bobs, name: 'mine now' }, csrf);
      assert.equal(rename.status, 404);
      const row = await server.db('passkeys').where({ id: bobs }).first('name');
      assert.ok(row, 'still there');
      assert.notEqual(row.name, 'mine now');
      const unknown = await json(ada.browser, '/account/passkeys/remove', { passkey: 'no-such-passkey' }, csrf);
      assert.equal(unknown.status, 404);
    });

    it('with recovery available, the last passkey can be removed', async () => {
      const solo = await person('solo@example.com');
      const { html, csrf } = await accountPage(solo.browser);
      assert.match(html, /This is your only passkey. Without it you will have to recover your account by email/);
      const removed = await form(solo.browser, '/account/passkeys/remove', { passkey: solo.authenticator.credentials[0]!.id }, csrf);
      assert.equal(removed.status, 303);
      const after = await accountPage(solo.browser);
      assert.deepEqual(passkeyIds(after.html), []);
      assert.deepEqual(signals(after.html).accepted, []);
      assert.match(after.html, /You have no passkeys left/);
    });
  });

  describe('last passkey without recovery', () => {
    let strict: TestServer;
    before(async () => {
      strict = await startLatchkey({ env: { LATCHKEY_RECOVERY: 'off' } });
    });
    after(() => strict.close());

    it('refuses to remove the only passkey when recovery is off', async () => {
      const authenticator = new SoftwareAuthenticator({ origin: strict.issuer });
      const signup = new HttpClient(strict.issuer);
      await land(signup, await signUp(signup, strict, authenticator, await openInteraction(signup, strict.url('/account')), 'only@example.com'));
      const http = new HttpClient(strict.issuer);
      const verified = await signInWithPasskey(http, authenticator, await openInteraction(http, strict.url('/account')));
      await land(http, ((await verified.json()) as { redirectTo: string }).redirectTo);
      const page = await accountPage(http);
      assert.match(page.html, /This is your only passkey, so it cannot be removed/);
      assert.match(page.html, /<button type="submit" class="danger"[^>]* disabled>Remove<\/button>/);
      const id = authenticator.credentials[0]!.id;
      const refused = await form(http, '/account/passkeys/remove', { passkey: id }, page.csrf);
      assert.equal(refused.status, 409);
      assert.match(await refused.text(), /<div role="alert" class="status error" id="page-error" tabindex="-1" autofocus><p>This is your only passkey/);
      const problem = await json(http, '/account/passkeys/remove', { passkey: id }, page.csrf);
      assert.equal(((await problem.json()) as { code: string }).code, 'last_passkey');
      assert.ok(await strict.db('passkeys').where({ id }).first(), 'still there');
      const mails = strict.mailbox.sent.filter((m) => /removed/.test(m.subject));
      assert.equal(mails.length, 0);
    });
  });

  describe('sessions', () => {
    it('lists the account’s sessions and ends one: that browser is signed out', async () => {
      const cara = await person('cara@example.com');
      const other = await signInAtAccount(cara.authenticator);
      // An application the other browser signed in to, without offline_access: its tokens live as long as the session.
      const rp = await registerRelyingParty(server);
      const request = await authorizationRequest(rp);
      const tokens = await redeem(rp, request, await finishAtApplication(other, (await other.follow(request.url.href)).url));
      assert.equal((await oidc.fetchUserInfo(rp, tokens.access_token, tokens.claims()!.sub)).email, cara.email);
      const { html, csrf } = await accountPage(cara.browser);
      const sessions = sessionUids(html);
      assert.ok(sessions.length >= 3, 'sign-up browser, this one and the other');
      assert.equal(sessions.filter((s) => s.current).length, 1);
      assert.ok(sessions[0]!.current, 'this browser first');
      assert.match(html, /<h3 id="session-1-title">This browser<\/h3>/);
      assert.match(html, /with a synced passkey|with a device-bound passkey/);
      assert.match(html, /with a code sent by email/, 'the sign-up session');
      const otherUid = sessionUids((await accountPage(other)).html).find((s) => s.current)!.uid;

      const ended = await form(cara.browser, '/account/sessions/end', { session: otherUid }, csrf);
      assert.equal(ended.status, 303);
      assert.equal(ended.headers.get('location'), '/account');
      const after = await accountPage(cara.browser);
      assert.match(after.html, /That session is signed out/);
      assert.ok(!sessionUids(after.html).some((s) => s.uid === otherUid));
      const signedOut = await other.get('/account');
      assert.equal(signedOut.status, 303);
      assert.match(signedOut.headers.get('location')!, /^\/auth\?/, 'the other browser has to sign in again');
      await assert.rejects(oidc.fetchUserInfo(rp, tokens.access_token, tokens.claims()!.sub), 'the session’s access token stops working');

      const again = await json(cara.browser, '/account/sessions/end', { session: otherUid }, after.csrf);
      assert.equal(again.status, 404);
      assert.equal(((await again.json()) as { code: string }).code, 'session_not_found');
    });

    it('cannot end another account’s session', async () => {
      const dan = await person('dan@example.com');
      const eve = await person('eve@example.com');
      const dansSession = sessionUids((await accountPage(dan.browser)).html).find((s) => s.current)!.uid;
      const refused = await json(eve.browser, '/account/sessions/end', { session: dansSession }, (await accountPage(eve.browser)).csrf);
      assert.equal(refused.status, 404);
      await accountPage(dan.browser); // still signed in
    });

    it('ending this browser’s own session signs it out', async () => {
      const fay = await person('fay@example.com');
      const { html, csrf } = await accountPage(fay.browser);
      const mine = sessionUids(html).find((s) => s.current)!.uid;
      const ended = await form(fay.browser, '/account/sessions/end', { session: mine }, csrf);
      assert.equal(ended.status, 303);
      assert.equal(ended.headers.get('location'), '/account/signed-out');
      const page = await land(fay.browser, '/account/signed-out');
      assert.match(page.html, /You are signed out/);
      assert.equal((await fay.browser.get('/account')).status, 303);
    });
  });

  describe('applications', () => {
    let rp: oidc.Configuration;
    before(async () => {
      rp = await registerRelyingParty(server);
    });

    async function connect(who: Person) {
      const request = await authorizationRequest(rp, { scope: 'openid email offline_access', prompt: 'consent' });
      const { url } = await who.browser.follow(request.url.href);
      const callback = await finishAtApplication(who.browser, url);
      return redeem(rp, request, callback);
    }

    it('lists the applications the person allowed and revokes one: its refresh token stops working', async () => {
      const gus = await person('gus@example.com');
      const tokens = await connect(gus);
      assert.ok(tokens.refresh_token);
      const { html, csrf } = await accountPage(gus.browser);
      const clientId = rp.clientMetadata().client_id;
      assert.match(html, new RegExp(`<li class="item application" data-client="${clientId}">\\s*<h3 id="application-1-name">Test App</h3>`));
      assert.match(html, /Stay signed in when you are not using it/);
      assert.match(html, /See your email address/);
      assert.ok(!html.includes('data-client="latchkey-account"'), 'the account page itself is not listed');
      assert.match(html, /<dt>Applications<\/dt><dd>Test App<\/dd>/, 'the session names the application signed in to');

      const revoked = await form(gus.browser, '/account/grants/revoke', { client: clientId }, csrf);
      assert.equal(revoked.status, 303);
      const after = await accountPage(gus.browser);
      assert.match(after.html, /Access revoked/);
      assert.ok(!after.html.includes(`data-client="${clientId}"`));
      await assert.rejects(oidc.refreshTokenGrant(rp, tokens.refresh_token!), (e: Error & { error?: string }) => e.error === 'invalid_grant');
      await assert.rejects(oidc.fetchUserInfo(rp, tokens.access_token, tokens.claims()!.sub));
      // The application has to ask again.
      const request = await authorizationRequest(rp);
      const { response } = await gus.browser.follow(request.url.href);
      assert.match(await response.text(), /<h1 id="page-title">Allow/);
    });

    it('cannot revoke what another account granted, nor the account page’s own access', async () => {
      const hal = await person('hal@example.com');
      const ivy = await person('ivy@example.com');
      const tokens = await connect(hal);
      const { csrf } = await accountPage(ivy.browser);
      for (const client of [rp.clientMetadata().client_id, 'latchkey-account', 'no-such-client']) {
        const refused = await json(ivy.browser, '/account/grants/revoke', { client }, csrf);
        assert.equal(refused.status, 404, client);
        assert.equal(((await refused.json()) as { code: string }).code, 'grant_not_found');
      }
      const own = await json(hal.browser, '/account/grants/revoke', { client: 'latchkey-account' }, (await accountPage(hal.browser)).csrf);
      assert.equal(own.status, 404);
      assert.ok((await oidc.refreshTokenGrant(rp, tokens.refresh_token!)).access_token, 'Hal’s access is untouched');
    });
  });

  describe('defences', () => {
    let jo: Person;
    let kim: Person;
    before(async () => {
      jo = await person('jo@example.com');
      kim = await person('kim@example.com');
    });

    it('refuses every account POST without the CSRF token, or from another site', async () => {
      const { csrf } = await accountPage(jo.browser);
      const id = jo.authenticator.credentials[0]!.id;
      const uid = sessionUids((await accountPage(jo.browser)).html)[0]!.uid;
      const posts: [string, Record<string, string>][] = [
        ['/account/passkeys/options', {}],
        ['/account/passkeys/verify', {}],
        ['/account/passkeys/rename', { passkey: id, name: 'forged' }],
        ['/account/passkeys/remove', { passkey: id }],
        ['/account/sessions/end', { session: uid }],
        ['/account/grants/revoke', { client: 'anything' }],
      ];
      for (const [path, fields] of posts) {
        const none = await form(jo.browser, path, fields);
        assert.equal(none.status, 403, `${path} without a token`);
        assert.match(await none.text(), /csrf_failed/);
        const wrong = await form(jo.browser, path, fields, 'x'.repeat(43));
        assert.equal(wrong.status, 403, `${path} with a wrong token`);
        const foreign = await jo.browser.request('POST', path, { form: { csrf, ...fields }, headers: { origin: 'https://evil.example' } });
        assert.equal(foreign.status, 403, `${path} from another origin`);
        const crossSite = await jo.browser.request('POST', path, { form: { csrf, ...fields }, headers: { 'sec-fetch-site': 'cross-site' } });
        assert.equal(crossSite.status, 403, `${path} marked cross-site`);
        const problem = await jo.browser.request('POST', path, { body: fields });
        assert.equal(problem.status, 403);
        assert.equal(((await problem.json()) as { code: string }).code, 'csrf_failed');
      }
      assert.ok(await server.db('passkeys').where({ id }).first(), 'nothing changed');
      assert.notEqual((await server.db('passkeys').where({ id }).first('name')).name, 'forged');
      await accountPage(jo.browser);
    });

    it('accepts a same-origin form post that says "Origin: null" (Referrer-Policy: no-referrer) only when Sec-Fetch-Site vouches for it', async () => {
      const { csrf } = await accountPage(jo.browser);
      const id = jo.authenticator.credentials[0]!.id;
      const rename = (headers: Record<string, string>) =>
        jo.browser.request('POST', '/account/passkeys/rename', { form: { csrf, passkey: id, name: 'Renamed by a form' }, headers: { origin: 'null', ...headers } });
      const refused: Record<string, string>[] = [{}, { 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }, { 'sec-fetch-site': 'none' }];
      for (const headers of refused) {
        assert.equal((await rename(headers)).status, 403, JSON.stringify(headers));
      }
      assert.equal((await rename({ 'sec-fetch-site': 'same-origin' })).status, 303);
      assert.equal((await server.db('passkeys').where({ id }).first('name')).name, 'Renamed by a form');
    });

    it('acr, amr, accountId or timestamps in a POST body change nothing', async () => {
      const kimsId = kim.authenticator.credentials[0]!.id;
      const josId = jo.authenticator.credentials[0]!.id;
      const kimsAccount = (await server.db('passkeys').where({ id: kimsId }).first('account_id')).account_id;
      const now = Math.floor(Date.now() / 1000);
      const forged = {
        acr: 'phrh',
        amr: 'hwk',
        accountId: kimsAccount,
        account_id: kimsAccount,
        sub: kimsAccount,
        auth_time: String(now),
        loginTs: String(now),
        ts: String(now),
        created_at: '1',
        createdAt: '1',
        last_used_at: '1',
        lastUsedAt: '1',
      };

      // Rename acts on the session's account only, and touches nothing but the name.
      const before = await server.db('passkeys').where({ id: josId }).first();
      const { csrf } = await accountPage(jo.browser);
      const renamed = await form(jo.browser, '/account/passkeys/rename', { ...forged, passkey: josId, name: 'Work laptop' }, csrf);
      assert.equal(renamed.status, 303);
      const afterRename = await server.db('passkeys').where({ id: josId }).first();
      assert.deepEqual({ ...afterRename, name: before.name }, before, 'only the name changed');
      assert.equal(afterRename.name, 'Work laptop');
      const kimsRename = await form(jo.browser, '/account/passkeys/rename', { ...forged, passkey: kimsId, name: 'hijacked' }, csrf);
      assert.equal(kimsRename.status, 404);

      // A stale session stays stale, whatever acr or auth_time the body claims.
      const stale = await staleSignIn(jo.authenticator);
      const staleCsrf = (await accountPage(stale)).csrf;
      const options = await json(stale, '/account/passkeys/options', { ...forged, acr: 'phrh', amr: ['hwk', 'user'], auth_time: now }, staleCsrf);
      assert.equal(options.status, 401);
      const remove = await form(stale, '/account/passkeys/remove', { ...forged, passkey: josId }, staleCsrf);
      assert.equal(remove.headers.get('location'), '/account/reauth');
      assert.ok(await server.db('passkeys').where({ id: josId }).first());

      // Another account's passkey stays out of reach even when the body names that account.
      const removeKims = await form(jo.browser, '/account/passkeys/remove', { ...forged, passkey: kimsId }, csrf);
      assert.equal(removeKims.status, 404);
      assert.ok(await server.db('passkeys').where({ id: kimsId }).first());

      // A new passkey lands on the session's account, not the one the body names.
      const laptop = new SoftwareAuthenticator({ origin: server.issuer });
      const added = await addPasskey(jo.browser, laptop, { ...forged, accountId: kimsAccount, userHandle: 'forged' });
      assert.equal(added.status, 200);
      const row = await server.db('passkeys').where({ id: laptop.credentials[0]!.id }).first();
      const josAccount = (await server.db('passkeys').where({ id: josId }).first('account_id')).account_id;
      assert.equal(row.account_id, josAccount);
      assert.notEqual(Number(row.created_at), 1);
      assert.equal(row.last_used_at, null);

      // Sessions and grants: the body's accountId is ignored too.
      const kimsSession = sessionUids((await accountPage(kim.browser)).html).find((s) => s.current)!.uid;
      const end = await form(jo.browser, '/account/sessions/end', { ...forged, session: kimsSession }, csrf);
      assert.equal(end.status, 404);
      await accountPage(kim.browser);

      // And the page still shows Jo's own account.
      const { html } = await accountPage(jo.browser);
      assert.match(html, /Signed in as <strong>jo@example.com<\/strong>/);
      assert.ok(!passkeyIds(html).includes(kimsId));
    });
  });
});
