import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { SoftwareAuthenticator } from '../helpers/authenticator.ts';
import { INITIAL_ACCESS_TOKEN, startLatchkey, type TestServer } from '../helpers/app.ts';
import { finishAtApplication, openInteraction, postJson, signInWithPasskey, signUp, type PageState } from '../helpers/flows.ts';
import { HttpClient } from '../helpers/http.ts';
import { authorizationRequest, redeem, registerRelyingParty, REDIRECT_URI } from '../helpers/rp.ts';

interface Person {
  readonly email: string;
  readonly authenticator: SoftwareAuthenticator;
  /** A browser signed in to Latchkey with the passkey (session at phrh or phr). */
  readonly browser: HttpClient;
  readonly sub: string;
}

describe('step-up', () => {
  let server: TestServer;
  let rp: oidc.Configuration;
  let hardware: Person; // device-bound passkey: phrh
  let synced: Person; // backup-eligible passkey: phr

  async function person(email: string, backupEligible: boolean): Promise<Person> {
    const authenticator = new SoftwareAuthenticator({ origin: server.issuer, backupEligible });
    const http = new HttpClient(server.issuer);
    await finishAtApplication(http, await signUp(http, server, authenticator, await openInteraction(http, (await authorizationRequest(rp)).url.href), email));
    const browser = new HttpClient(server.issuer);
    const request = await authorizationRequest(rp);
    const verified = await signInWithPasskey(browser, authenticator, await openInteraction(browser, request.url.href));
    const callback = await finishAtApplication(browser, ((await verified.json()) as { redirectTo: string }).redirectTo);
    const claims = (await redeem(rp, request, callback)).claims()!;
    return { email, authenticator, browser, sub: claims.sub };
  }

  /** Runs an authorization request in the person's browser: either straight back to the app or onto the step-up page. */
  async function authorize(who: Person, params: Record<string, string>, config = rp) {
    const request = await authorizationRequest(config, params);
    const { response, url } = await who.browser.follow(request.url.href);
    if (new URL(url).origin !== server.issuer) return { request, callback: url, page: undefined };
    const html = await response.text();
    // A first visit to a new client passes the consent page: that is not a step-up.
    if (/<h1 id="page-title">Allow/.test(html)) return { request, callback: await finishAtApplication(who.browser, url), page: undefined };
    const page: PageState = { uid: new URL(url).pathname.split('/')[2]!, csrf: html.match(/name="csrf-token" content="([^"]+)"/)![1]!, html };
    return { request, callback: undefined, page };
  }

  /** Completes the step-up page with the person's passkey; returns where the browser lands. */
  async function stepUp(who: Person, page: PageState, authenticator = who.authenticator): Promise<string> {
    assert.match(page.html, /Confirm it’s you/);
    const options = await postJson(who.browser, page, '/passkey/options', {});
    const body = (await options.json()) as { allowCredentials?: { id: string }[] };
    assert.deepEqual(body.allowCredentials?.map((c) => c.id), who.authenticator.credentials.map((c) => c.id), 'restricted to the person’s own passkeys');
    const verified = await postJson(who.browser, page, '/passkey/verify', authenticator.getAssertion(body as never));
    const result = (await verified.json()) as { redirectTo?: string; code?: string };
    assert.equal(verified.status, 200, `step-up answered ${verified.status} ${result.code}`);
    return finishAtApplication(who.browser, result.redirectTo!);
  }

  function errorOf(callback: string): string | null {
    return new URL(callback).searchParams.get('error');
  }

  before(async () => {
    server = await startLatchkey();
    rp = await registerRelyingParty(server);
    hardware = await person('hardware@example.com', false);
    synced = await person('synced@example.com', true);
  });
  after(() => server.close());

  it('a fresh phrh session satisfies acr_values=phrh without a prompt', async () => {
    const { request, callback } = await authorize(hardware, { acr_values: 'phrh' });
    assert.ok(callback, 'no page shown');
    assert.equal((await redeem(rp, request, callback)).claims()!.acr, 'phrh');
  });

  it('acr_values is an ordered list: a session at any listed level (or stronger) satisfies it', async () => {
    const { request, callback } = await authorize(synced, { acr_values: 'phrh phr' });
    assert.ok(callback);
    assert.equal((await redeem(rp, request, callback)).claims()!.acr, 'phr', 'the acr actually reached, not the one preferred');
  });

  it('phrh decays after 15 minutes: a new ceremony is required, with fresh auth_time and a new session id', async () => {
    server.advanceClock(16 * 60 * 1000);
    try {
      const { request, page } = await authorize(hardware, { acr_values: 'phrh' });
      assert.ok(page, 'the step-up page is shown');
      assert.match(page.html, /stays on one device/);
      const sessionBefore = hardware.browser.cookieValue('_session');
      const callback = await stepUp(hardware, page);
      const claims = (await redeem(rp, request, callback)).claims()!;
      assert.equal(claims.acr, 'phrh');
      assert.deepEqual(claims.amr, ['pop', 'hwk', 'user', 'mfa']);
      assert.ok((claims.auth_time as number) >= Math.floor(Date.now() / 1000) - 5);
      assert.notEqual(hardware.browser.cookieValue('_session'), sessionBefore, 'step-up rotates the session id');
    } finally {
      server.advanceClock(-16 * 60 * 1000);
    }
  });

  it('a synced passkey cannot reach phrh: unmet_authentication_requirements, never a weaker token', async () => {
    const requests: Record<string, string>[] = [
      { acr_values: 'phrh' },
      { claims: JSON.stringify({ id_token: { acr: { essential: true, value: 'phrh' } } }) },
      { claims: JSON.stringify({ id_token: { acr: { essential: true, values: ['phrh'] } } }) },
    ];
    for (const params of requests) {
      const { page } = await authorize(synced, params);
      assert.ok(page, `step-up page for ${JSON.stringify(params)}`);
      const landed = await stepUp(synced, page);
      assert.equal(errorOf(landed), 'unmet_authentication_requirements');
      assert.equal(new URL(landed).searchParams.get('code'), null);
    }
    // The failed step-up left the session as it was: phr still satisfies phr.
    const { request, callback } = await authorize(synced, { acr_values: 'phr' });
    assert.ok(callback);
    assert.equal((await redeem(rp, request, callback)).claims()!.acr, 'phr');
  });

  it('a voluntary acr claim asks nothing', async () => {
    const { callback } = await authorize(synced, { claims: JSON.stringify({ id_token: { acr: { values: ['phrh'] } } }) });
    assert.ok(callback);
    assert.equal(errorOf(callback), null);
  });

  it('prompt=none with an unmet requirement fails without a page', async () => {
    for (const acr of ['phrh', 'gold']) {
      const { callback } = await authorize(synced, { acr_values: acr, prompt: 'none' });
      assert.ok(callback, 'no page under prompt=none');
      assert.equal(errorOf(callback), 'unmet_authentication_requirements');
    }
    const fresh = new HttpClient(server.issuer);
    const request = await authorizationRequest(rp, { prompt: 'none', acr_values: 'phr' });
    const { url } = await fresh.follow(request.url.href);
    assert.equal(errorOf(url), 'login_required', 'no session at all');
  });

  it('max_age=0 and prompt=login each require a fresh ceremony', async () => {
    const requests: Record<string, string>[] = [{ max_age: '0' }, { prompt: 'login' }];
    for (const params of requests) {
      const before = Math.floor(Date.now() / 1000);
      const { request, page } = await authorize(synced, params);
      assert.ok(page, JSON.stringify(params));
      assert.match(page.html, /confirm it is you again/);
      const callback = await stepUp(synced, page);
      const claims = (await redeem(rp, request, callback)).claims()!;
      assert.equal(claims.acr, 'phr');
      assert.ok((claims.auth_time as number) >= before);
    }
  });

  it('per-client minimum_acr and default_max_age come from client metadata', async () => {
    const strict = await registerRelyingParty(server, { minimum_acr: 'phrh' });
    const { page } = await authorize(synced, {}, strict);
    assert.ok(page);
    assert.equal(errorOf(await stepUp(synced, page)), 'unmet_authentication_requirements');
    const passes = await authorize(hardware, {}, strict);
    assert.ok(passes.callback);
    assert.equal((await redeem(strict, passes.request, passes.callback)).claims()!.acr, 'phrh');

    const bad = await fetch(server.url('/reg'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${INITIAL_ACCESS_TOKEN}` },
      body: JSON.stringify({ redirect_uris: [REDIRECT_URI], minimum_acr: 'gold' }),
    });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: string }).error, 'invalid_client_metadata');

    const fresh = await registerRelyingParty(server, { default_max_age: 1 });
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const aged = await authorize(synced, {}, fresh);
    assert.ok(aged.page, 'a session older than the client’s default_max_age is asked again');
  });

  it('refuses another account’s passkey on the step-up page', async () => {
    const { page } = await authorize(synced, { prompt: 'login' });
    assert.ok(page);
    const options = (await (await postJson(synced.browser, page, '/passkey/options', {})).json()) as Record<string, unknown>;
    const foreign = hardware.authenticator.getAssertion({ ...options, allowCredentials: [] } as never);
    const response = await postJson(synced.browser, page, '/passkey/verify', foreign);
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { code: string }).code, 'passkey_wrong_account');
  });

  it('cancel on the step-up page returns access_denied', async () => {
    const { page } = await authorize(synced, { prompt: 'login' });
    assert.ok(page);
    const cancelled = await synced.browser.request('POST', `/interaction/${page.uid}/abort`, { form: { csrf: page.csrf } });
    const { url } = await synced.browser.follow(cancelled.headers.get('location')!);
    assert.equal(errorOf(url), 'access_denied');
  });

  it('sign-up for an application that requires phr asks for the new passkey right away', async () => {
    const http = new HttpClient(server.issuer);
    const authenticator = new SoftwareAuthenticator({ origin: server.issuer });
    const request = await authorizationRequest(rp, { acr_values: 'phr' });
    const page = await openInteraction(http, request.url.href);
    const next = await signUp(http, server, authenticator, page, 'newcomer@example.com');
    const { response, url } = await http.follow(next);
    assert.match(url, /\/interaction\//, 'the step-up page follows sign-up');
    const html = await response.text();
    assert.match(html, /Confirm it’s you/);
    const stepPage: PageState = { uid: new URL(url).pathname.split('/')[2]!, csrf: html.match(/name="csrf-token" content="([^"]+)"/)![1]!, html };
    const callback = await stepUp({ email: 'newcomer@example.com', authenticator, browser: http, sub: '' }, stepPage);
    const claims = (await redeem(rp, request, callback)).claims()!;
    assert.equal(claims.acr, 'phrh');
  });

  it('acr, amr, accountId or timestamps in a POST body change nothing', async () => {
    const { request, page } = await authorize(synced, { prompt: 'login' });
    assert.ok(page);
    const options = await (await postJson(synced.browser, page, '/passkey/options', {})).json();
    const assertion = synced.authenticator.getAssertion(options as never);
    const forged = { ...assertion, acr: 'phrh', amr: ['hwk'], accountId: hardware.sub, ts: 1, auth_time: 1, login: { acr: 'phrh', accountId: hardware.sub } };
    const verified = await postJson(synced.browser, page, '/passkey/verify', forged);
    assert.equal(verified.status, 200);
    const callback = await finishAtApplication(synced.browser, ((await verified.json()) as { redirectTo: string }).redirectTo);
    const claims = (await redeem(rp, request, callback)).claims()!;
    assert.equal(claims.sub, synced.sub);
    assert.equal(claims.acr, 'phr');
    assert.deepEqual(claims.amr, ['pop', 'swk', 'user', 'mfa']);
    assert.ok((claims.auth_time as number) > 1);
  });
});
