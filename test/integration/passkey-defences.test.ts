import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as oidc from 'openid-client';
import { SoftwareAuthenticator, type CeremonyOverrides } from '../helpers/authenticator.ts';
import { startLatchkey, type TestServer } from '../helpers/app.ts';
import { openInteraction, postForm, postJson, signUp, type PageState } from '../helpers/flows.ts';
import { HttpClient } from '../helpers/http.ts';
import { authorizationRequest, registerRelyingParty } from '../helpers/rp.ts';

const ANDROID_ORIGIN = 'android:apk-key-hash:zJ6jTZHGrn5ZVY9P8U2-bG0lXwTaqYV5sYdJrqU4s9M';

/** Each case checks the exact refusal: status and stable error code. */
async function expectRefused(response: Response, status: number, code: string): Promise<void> {
  const body = (await response.json()) as { code?: string; redirectTo?: string };
  assert.equal(response.status, status, `expected ${status} ${code}, got ${response.status} ${body.code}`);
  assert.equal(body.code, code);
  assert.equal(body.redirectTo, undefined);
  assert.match(response.headers.get('content-type') ?? '', /application\/problem\+json/);
}

describe('passkey ceremony defences', () => {
  let server: TestServer;
  let rp: oidc.Configuration;
  let owner: SoftwareAuthenticator;
  const email = 'owner@example.com';

  /** A new browser on the sign-in page of a new authorization request. */
  async function signInPage(): Promise<{ http: HttpClient; page: PageState }> {
    const http = new HttpClient(server.issuer);
    const request = await authorizationRequest(rp);
    return { http, page: await openInteraction(http, request.url.href) };
  }

  async function options(http: HttpClient, page: PageState, body: unknown = {}) {
    const res = await postJson(http, page, '/passkey/options', body);
    assert.equal(res.status, 200);
    return res.json();
  }

  async function assertWith(overrides: CeremonyOverrides, authenticator = owner) {
    const { http, page } = await signInPage();
    const credential = authenticator.getAssertion(await options(http, page), overrides);
    return postJson(http, page, '/passkey/verify', credential);
  }

  before(async () => {
    server = await startLatchkey({ env: { LATCHKEY_ORIGINS: `http://localhost:{PORT},${ANDROID_ORIGIN}` } });
    rp = await registerRelyingParty(server);
    owner = new SoftwareAuthenticator({ origin: server.issuer });
    const http = new HttpClient(server.issuer);
    const page = await openInteraction(http, (await authorizationRequest(rp)).url.href);
    await signUp(http, server, owner, page, email);
  });
  after(() => server.close());

  it('accepts a good assertion (the baseline for every case below)', async () => {
    const res = await assertWith({});
    assert.equal(res.status, 200);
    assert.ok(((await res.json()) as { redirectTo: string }).redirectTo);
  });

  it('refuses a challenge issued to another interaction', async () => {
    const a = await signInPage();
    const b = await signInPage();
    const credential = owner.getAssertion(await options(a.http, a.page));
    await expectRefused(await postJson(b.http, b.page, '/passkey/verify', credential), 400, 'passkey_challenge_invalid');
  });

  it('refuses a made-up challenge', async () => {
    await expectRefused(await assertWith({ challenge: Buffer.alloc(32, 7).toString('base64url') }), 400, 'passkey_challenge_invalid');
  });

  it('refuses an expired challenge', async () => {
    const { http, page } = await signInPage();
    const credential = owner.getAssertion(await options(http, page));
    server.advanceClock((server.config.challengeTtl + 1) * 1000);
    try {
      await expectRefused(await postJson(http, page, '/passkey/verify', credential), 400, 'passkey_challenge_invalid');
    } finally {
      server.advanceClock(-(server.config.challengeTtl + 1) * 1000);
    }
  });

  it('burns the challenge on a failed try and refuses a replay of a good one', async () => {
    const { http, page } = await signInPage();
    const opts = await options(http, page);
    await expectRefused(await postJson(http, page, '/passkey/verify', owner.getAssertion(opts, { tamper: 'signature' })), 400, 'passkey_verification_failed');
    // The same challenge, now with a valid signature: already used.
    await expectRefused(await postJson(http, page, '/passkey/verify', owner.getAssertion(opts)), 400, 'passkey_challenge_invalid');

    const fresh = await signInPage();
    const good = owner.getAssertion(await options(fresh.http, fresh.page));
    assert.equal((await postJson(fresh.http, fresh.page, '/passkey/verify', good)).status, 200);
    await expectRefused(await postJson(fresh.http, fresh.page, '/passkey/verify', good), 400, 'passkey_challenge_invalid');
  });

  for (const [name, overrides] of [
    ['another scheme', { origin: 'https://localhost:{PORT}' }],
    ['another port', { origin: 'http://localhost:1' }],
    ['a sibling subdomain', { origin: 'http://evil.localhost:{PORT}' }],
    ['another site', { origin: 'https://evil.example' }],
    ['a cross-origin frame', { crossOrigin: true }],
    ['a top origin', { topOrigin: 'https://evil.example' }],
    ['the registration type', { type: 'webauthn.create' }],
    ['another RP ID hash', { rpId: 'example.com' }],
    ['no user verification', { userVerified: false }],
    ['no user presence', { userPresent: false }],
    ['a flipped signature byte', { tamper: 'signature' }],
    ['a flipped authenticatorData byte', { tamper: 'authenticatorData' }],
    ['a flipped clientDataJSON byte', { tamper: 'clientDataJSON' }],
  ] as const) {
    it(`refuses an assertion with ${name}`, async () => {
      const resolved = Object.fromEntries(
        Object.entries(overrides).map(([k, v]) => [k, typeof v === 'string' ? v.replace('{PORT}', String(server.port)) : v]),
      ) as CeremonyOverrides;
      await expectRefused(await assertWith(resolved), 400, 'passkey_verification_failed');
    });
  }

  it('accepts a configured native-app origin (android:apk-key-hash)', async () => {
    const res = await assertWith({ origin: ANDROID_ORIGIN });
    assert.equal(res.status, 200);
  });

  it('never lowers the stored counter and refuses a counter that goes backwards', async () => {
    const before = await server.db('passkeys').first('counter');
    await expectRefused(await assertWith({ counter: 1 }), 400, 'passkey_verification_failed');
    const afterwards = await server.db('passkeys').first('counter');
    assert.equal(Number(afterwards.counter), Number(before.counter));
  });

  it('refuses an unknown credential and a user handle of someone else', async () => {
    const stranger = new SoftwareAuthenticator({ origin: server.issuer });
    stranger.createCredential({
      rp: { id: 'localhost', name: 'x' },
      user: { id: 'c3RyYW5nZXI', name: 's', displayName: 's' },
      challenge: 'AAAA',
      pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
    });
    await expectRefused(await assertWith({}, stranger), 400, 'passkey_unknown_credential');
    await expectRefused(await assertWith({ userHandle: Buffer.from('someone-else').toString('base64url') }), 400, 'passkey_wrong_account');
  });

  it('username-first: restricts to that account, and an unknown email looks the same', async () => {
    const { http, page } = await signInPage();
    const known = (await options(http, page, { email })) as { allowCredentials: { id: string }[] };
    assert.deepEqual(known.allowCredentials.map((c) => c.id), owner.credentials.map((c) => c.id));
    const unknown = (await options(http, page, { email: 'nobody@example.com' })) as { allowCredentials: { id: string }[]; userVerification: string };
    assert.equal(unknown.allowCredentials.length, 1);
    assert.equal(unknown.userVerification, 'required');
    const again = (await options(http, page, { email: 'nobody@example.com' })) as { allowCredentials: { id: string }[] };
    assert.deepEqual(again.allowCredentials, unknown.allowCredentials, 'decoys are stable, so repeating a lookup reveals nothing');

    // Another account's passkey cannot answer a ceremony restricted to this account.
    const other = new SoftwareAuthenticator({ origin: server.issuer });
    const h2 = new HttpClient(server.issuer);
    await signUp(h2, server, other, await openInteraction(h2, (await authorizationRequest(rp)).url.href), 'other@example.com');
    const restricted = await options(http, page, { email });
    const credential = other.getAssertion({ ...restricted, allowCredentials: [] });
    await expectRefused(await postJson(http, page, '/passkey/verify', credential), 400, 'passkey_wrong_account');
  });

  it('gives malformed payloads a clear 4xx, never a 500', async () => {
    const { http, page } = await signInPage();
    const opts = await options(http, page);
    const good = owner.getAssertion(opts) as unknown as Record<string, unknown>;
    const cases: unknown[] = [
      {},
      { id: 'abc' },
      { ...good, response: { ...(good.response as object), clientDataJSON: '%%%not-base64%%%' } },
      { ...good, response: { ...(good.response as object), clientDataJSON: Buffer.from('not json').toString('base64url') } },
      { ...good, id: 'not base64url!', rawId: 'not base64url!' },
      { ...good, id: 'A'.repeat(2000), rawId: 'A'.repeat(2000) },
      [],
      'a string',
    ];
    for (const body of cases) {
      const res = await postJson(http, page, '/passkey/verify', body);
      assert.ok(res.status >= 400 && res.status < 500, `status ${res.status} for ${JSON.stringify(body).slice(0, 80)}`);
      const problem = (await res.json()) as { code: string };
      assert.ok(problem.code, 'problem details carry a code');
    }
    const invalidJson = await http.request('POST', `/interaction/${page.uid}/passkey/verify`, {
      body: '{"id": ',
      headers: { 'x-csrf-token': page.csrf },
    });
    assert.equal(invalidJson.status, 400);
    const tooLarge = await postJson(http, page, '/passkey/verify', { padding: 'x'.repeat(64 * 1024) });
    assert.equal(tooLarge.status, 413);
  });
});

describe('sign-up defences', () => {
  let server: TestServer;
  let rp: oidc.Configuration;

  before(async () => {
    server = await startLatchkey();
    rp = await registerRelyingParty(server);
  });
  after(() => server.close());

  async function newPage() {
    const http = new HttpClient(server.issuer);
    return { http, page: await openInteraction(http, (await authorizationRequest(rp)).url.href) };
  }

  it('an unverified email gets no passkey options and cannot register', async () => {
    const { http, page } = await newPage();
    assert.equal((await postForm(http, page, '/signup', { email: 'unverified@example.com' })).status, 303);
    await expectRefused(await postJson(http, page, '/signup/passkey/options', {}), 400, 'email_not_verified');
    const authenticator = new SoftwareAuthenticator({ origin: server.issuer });
    const credential = authenticator.createCredential({
      rp: { id: 'localhost', name: 'x' },
      user: { id: 'dXNlcg', name: 'u', displayName: 'u' },
      challenge: Buffer.alloc(32, 1).toString('base64url'),
      pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
    });
    await expectRefused(await postJson(http, page, '/signup/passkey/verify', credential), 400, 'email_not_verified');
    assert.equal((await server.db('accounts').count({ n: '*' }))[0]!.n, 0);
  });

  it('limits code guesses, then even the right code fails', async () => {
    const { http, page } = await newPage();
    await postForm(http, page, '/signup', { email: 'guess@example.com' });
    const code = server.mailbox.lastCode('guess@example.com');
    const wrong = code === '000000' ? '111111' : '000000';
    for (let i = 0; i < server.config.emailCodeMaxAttempts; i++) {
      const res = await postForm(http, page, '/signup/code', { code: wrong });
      assert.equal(res.status, 400);
      assert.match(await res.text(), /role="alert"/);
    }
    const res = await postForm(http, page, '/signup/code', { code });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /Too many wrong codes/);
  });

  it('refuses an expired code', async () => {
    const { http, page } = await newPage();
    await postForm(http, page, '/signup', { email: 'late@example.com' });
    server.advanceClock((server.config.emailCodeTtl + 1) * 1000);
    try {
      const res = await postForm(http, page, '/signup/code', { code: server.mailbox.lastCode('late@example.com') });
      assert.equal(res.status, 400);
      assert.match(await res.text(), /expired/);
    } finally {
      server.advanceClock(-(server.config.emailCodeTtl + 1) * 1000);
    }
  });

  it('a second sign-up with an existing email reveals nothing and takes nothing over', async () => {
    const victim = new SoftwareAuthenticator({ origin: server.issuer });
    const first = await newPage();
    await signUp(first.http, server, victim, first.page, 'victim@example.com');
    const mailsBefore = server.mailbox.sent.length;

    const attacker = await newPage();
    const res = await postForm(attacker.http, attacker.page, '/signup', { email: 'Victim@Example.com ' });
    const fresh = await newPage();
    const control = await postForm(fresh.http, fresh.page, '/signup', { email: 'brand-new@example.com' });
    // Same answer for a registered and an unregistered address.
    assert.equal(res.status, control.status);
    assert.equal(new URL(res.headers.get('location')!, server.issuer).pathname, `/interaction/${attacker.page.uid}/signup/code`);
    const mail = server.mailbox.sent.slice(mailsBefore).find((m) => m.to === 'victim@example.com')!;
    assert.match(mail.subject, /already have/);
    assert.doesNotMatch(mail.text, /\b\d{6}\b/, 'no code is sent for an existing account');
    // No code exists for this interaction, so every guess fails and no passkey can be added.
    const guess = await postForm(attacker.http, attacker.page, '/signup/code', { code: '123456' });
    assert.equal(guess.status, 400);
    await expectRefused(await postJson(attacker.http, attacker.page, '/signup/passkey/options', {}), 400, 'email_not_verified');
    const account = await server.db('accounts').where({ email: 'victim@example.com' }).first();
    assert.equal((await server.db('passkeys').where({ account_id: account.id })).length, 1);
  });

  it('a failed registration writes nothing', async () => {
    const passkeysBefore = (await server.db('passkeys').count({ n: '*' }))[0]!.n;
    const { http, page } = await newPage();
    await postForm(http, page, '/signup', { email: 'halfway@example.com' });
    await postForm(http, page, '/signup/code', { code: server.mailbox.lastCode('halfway@example.com') });
    const options = await (await postJson(http, page, '/signup/passkey/options', {})).json();
    const noUv = new SoftwareAuthenticator({ origin: server.issuer, userVerification: false });
    const res = await postJson(http, page, '/signup/passkey/verify', noUv.createCredential(options));
    assert.equal(res.status, 400);
    assert.equal(await server.db('accounts').where({ email: 'halfway@example.com' }).first(), undefined);
    assert.equal((await server.db('passkeys').count({ n: '*' }))[0]!.n, passkeysBefore);
  });
});
