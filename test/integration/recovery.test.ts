import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as oidc from 'openid-client';
import { SoftwareAuthenticator } from '../helpers/authenticator.ts';
import { startLatchkey, type TestServer } from '../helpers/app.ts';
import { finishAtApplication, openInteraction, postForm, postJson, signInWithPasskey, signUp, type PageState } from '../helpers/flows.ts';
import { HttpClient } from '../helpers/http.ts';
import { authorizationRequest, redeem, registerRelyingParty } from '../helpers/rp.ts';

/** Runs "Lost your passkey?" to the end with a new authenticator; returns the verify response. */
async function recover(http: HttpClient, server: TestServer, page: PageState, email: string, authenticator: SoftwareAuthenticator) {
  const started = await postForm(http, page, '/recovery', { email });
  assert.equal(started.status, 303);
  const verified = await postForm(http, page, '/recovery/code', { code: server.mailbox.lastCode(email) });
  assert.equal(verified.status, 303);
  const optionsResponse = await postJson(http, page, '/recovery/passkey/options', {});
  assert.equal(optionsResponse.status, 200);
  const options = (await optionsResponse.json()) as { excludeCredentials: { id: string }[]; user: { id: string } };
  return { options, response: await postJson(http, page, '/recovery/passkey/verify', authenticator.createCredential(options as never)) };
}

describe('recovery of a lost passkey', () => {
  let server: TestServer;
  let rp: oidc.Configuration;
  const email = 'lost@example.com';
  let lost: SoftwareAuthenticator;

  before(async () => {
    server = await startLatchkey();
    rp = await registerRelyingParty(server);
    lost = new SoftwareAuthenticator({ origin: server.issuer });
    const http = new HttpClient(server.issuer);
    await finishAtApplication(http, await signUp(http, server, lost, await openInteraction(http, (await authorizationRequest(rp)).url.href), email));
  });
  after(() => server.close());

  it('a code to the verified email lets the person add a new passkey; the session stays at the email-code level', async () => {
    const http = new HttpClient(server.issuer);
    const request = await authorizationRequest(rp);
    const page = await openInteraction(http, request.url.href);
    assert.match(page.html, /Lost your passkey\?/);
    const replacement = new SoftwareAuthenticator({ origin: server.issuer });
    const { options, response } = await recover(http, server, page, email, replacement);
    const account = await server.db('accounts').where({ email }).first();
    assert.equal(Buffer.from(options.user.id, 'base64url').toString('base64url'), account.user_handle, 'the new passkey belongs to the same account');
    assert.deepEqual(options.excludeCredentials.map((c) => c.id), lost.credentials.map((c) => c.id));
    assert.equal(response.status, 200);
    const callback = await finishAtApplication(http, ((await response.json()) as { redirectTo: string }).redirectTo);
    const claims = (await redeem(rp, request, callback)).claims()!;
    assert.equal(claims.sub, account.id);
    assert.equal(claims.acr, 'urn:latchkey:acr:otp');
    assert.deepEqual(claims.amr, ['otp']);
    assert.equal((await server.db('passkeys').where({ account_id: account.id })).length, 2);
    assert.match(server.mailbox.sent.at(-1)!.subject, /new passkey was added/);

    // The recovered session never satisfies phr without a passkey ceremony.
    const strict = await authorizationRequest(rp, { acr_values: 'phr', prompt: 'none' });
    const { url } = await http.follow(strict.url.href);
    assert.equal(new URL(url).searchParams.get('error'), 'unmet_authentication_requirements');

    // The new passkey signs in at phrh.
    const later = new HttpClient(server.issuer);
    const next = await authorizationRequest(rp);
    const verified = await signInWithPasskey(later, replacement, await openInteraction(later, next.url.href));
    const landed = await finishAtApplication(later, ((await verified.json()) as { redirectTo: string }).redirectTo);
    assert.equal((await redeem(rp, next, landed)).claims()!.acr, 'phrh');
  });

  it('an unknown address gets the same page, a notice instead of a code, and no way in', async () => {
    const http = new HttpClient(server.issuer);
    const page = await openInteraction(http, (await authorizationRequest(rp)).url.href);
    const known = await postForm(http, page, '/recovery', { email });
    const other = new HttpClient(server.issuer);
    const otherPage = await openInteraction(other, (await authorizationRequest(rp)).url.href);
    const unknown = await postForm(other, otherPage, '/recovery', { email: 'stranger@example.com' });
    assert.equal(unknown.status, known.status);
    assert.equal(new URL(unknown.headers.get('location')!, server.issuer).pathname, `/interaction/${otherPage.uid}/recovery/code`);
    const notice = server.mailbox.sent.at(-1)!;
    assert.equal(notice.to, 'stranger@example.com');
    assert.doesNotMatch(notice.text, /\b\d{6}\b/);
    const guess = await postForm(other, otherPage, '/recovery/code', { code: '123456' });
    assert.equal(guess.status, 400);
    const options = await postJson(other, otherPage, '/recovery/passkey/options', {});
    assert.equal(options.status, 400);
    assert.equal(((await options.json()) as { code: string }).code, 'email_not_verified');
  });

  it('a recovery code cannot complete a sign-up and a sign-up code cannot complete a recovery', async () => {
    const http = new HttpClient(server.issuer);
    const page = await openInteraction(http, (await authorizationRequest(rp)).url.href);
    await postForm(http, page, '/recovery', { email });
    const code = server.mailbox.lastCode(email);
    const crossed = await postForm(http, page, '/signup/code', { code });
    assert.equal(crossed.status, 400);
  });

  it('can be turned off', async () => {
    const off = await startLatchkey({ env: { LATCHKEY_RECOVERY: 'off' } });
    try {
      const offRp = await registerRelyingParty(off);
      const http = new HttpClient(off.issuer);
      const page = await openInteraction(http, (await authorizationRequest(offRp)).url.href);
      assert.doesNotMatch(page.html, /Lost your passkey/);
      const response = await http.get(`/interaction/${page.uid}/recovery`);
      assert.equal(response.status, 404);
    } finally {
      await off.close();
    }
  });
});
