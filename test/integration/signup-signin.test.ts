import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { SoftwareAuthenticator } from '../helpers/authenticator.ts';
import { startLatchkey, type TestServer } from '../helpers/app.ts';
import { finishAtApplication, openInteraction, postForm, signInWithPasskey, signUp } from '../helpers/flows.ts';
import { HttpClient } from '../helpers/http.ts';
import { authorizationRequest, redeem, registerRelyingParty } from '../helpers/rp.ts';
import { DATABASE_KINDS } from '../helpers/databases.ts';

for (const database of DATABASE_KINDS) {
  describe(`sign-up and passkey sign-in through a relying party (${database})`, () => {
    let server: TestServer;
    let rp: oidc.Configuration;

    before(async () => {
      server = await startLatchkey({ database });
      rp = await registerRelyingParty(server);
    });
    after(() => server.close());

    it('shows an address the server refuses next to the field, with what was typed, and no mail goes out', async () => {
      const http = new HttpClient(server.issuer);
      const page = await openInteraction(http, (await authorizationRequest(rp)).url.href);
      const mails = server.mailbox.sent.length;
      // A browser accepts this address (type="email"); the server does not.
      for (const path of ['/signup', '/recovery']) {
        const refused = await postForm(http, page, path, { email: 'name@localhost' });
        assert.equal(refused.status, 400, path);
        const html = await refused.text();
        assert.match(html, /<div role="alert" class="status error" id="email-error">[^<]+<\/div>/, path);
        assert.match(html, /value="name@localhost"[^>]*aria-invalid="true" autofocus/, path);
        assert.match(html, new RegExp(`action="/interaction/${page.uid}${path}"`), 'the same form, to try again');
      }
      assert.equal(server.mailbox.sent.length, mails);
      const accepted = await postForm(http, page, '/signup', { email: 'fixed@example.com' });
      assert.equal(accepted.status, 303);
    });

    it('signs up at the email-code level, then signs in with the passkey at phrh', async () => {
      const http = new HttpClient(server.issuer);
      const authenticator = new SoftwareAuthenticator({ origin: server.issuer });
      const email = 'ada@example.com';

      // OIDC Core: offline_access is honoured only together with prompt=consent.
      const first = await authorizationRequest(rp, { scope: 'openid email offline_access', prompt: 'consent' });
      const page = await openInteraction(http, first.url.href);
      assert.match(page.html, /Sign in with a passkey/);
      assert.match(page.html, /autocomplete="username webauthn"/);
      const afterSignup = await signUp(http, server, authenticator, page, email);
      const callback = await finishAtApplication(http, afterSignup);
      const tokens = await redeem(rp, first, callback);
      const claims = tokens.claims()!;
      // A new passkey proves nothing by itself: the session stands on the email code alone.
      assert.equal(claims.acr, 'urn:latchkey:acr:otp');
      assert.deepEqual(claims.amr, ['otp']);
      assert.equal(typeof claims.auth_time, 'number');
      assert.ok(tokens.refresh_token, `offline_access yields a refresh token (scope: ${tokens.scope})`);
      const userinfo = await oidc.fetchUserInfo(rp, tokens.access_token, claims.sub);
      assert.equal(userinfo.email, email);
      assert.equal(userinfo.email_verified, true);

      // A fresh browser (no session) signs in with the passkey alone.
      const fresh = new HttpClient(server.issuer);
      const second = await authorizationRequest(rp);
      const signInPage = await openInteraction(fresh, second.url.href);
      const before = Math.floor(Date.now() / 1000);
      const verified = await signInWithPasskey(fresh, authenticator, signInPage);
      assert.equal(verified.status, 200);
      const next = await finishAtApplication(fresh, ((await verified.json()) as { redirectTo: string }).redirectTo, { consent: false });
      const signedIn = (await redeem(rp, second, next)).claims()!;
      assert.equal(signedIn.sub, claims.sub);
      assert.equal(signedIn.acr, 'phrh');
      assert.deepEqual(signedIn.amr, ['pop', 'hwk', 'user', 'mfa']);
      assert.ok((signedIn.auth_time as number) >= before, 'auth_time is the time of this ceremony');
    });

    it('gives a synced (backup-eligible) passkey phr with amr swk', async () => {
      const http = new HttpClient(server.issuer);
      const authenticator = new SoftwareAuthenticator({ origin: server.issuer, backupEligible: true });
      const first = await authorizationRequest(rp);
      const page = await openInteraction(http, first.url.href);
      await finishAtApplication(http, await signUp(http, server, authenticator, page, 'grace@example.com'));

      const fresh = new HttpClient(server.issuer);
      const request = await authorizationRequest(rp);
      const signInPage = await openInteraction(fresh, request.url.href);
      const verified = await signInWithPasskey(fresh, authenticator, signInPage, { email: 'grace@example.com' });
      assert.equal(verified.status, 200);
      const callback = await finishAtApplication(fresh, ((await verified.json()) as { redirectTo: string }).redirectTo);
      const claims = (await redeem(rp, request, callback)).claims()!;
      assert.equal(claims.acr, 'phr');
      assert.deepEqual(claims.amr, ['pop', 'swk', 'user', 'mfa']);
    });
  });
}
