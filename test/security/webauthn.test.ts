/**
 * Attacks on the WebAuthn ceremonies: challenges (foreign, expired, replayed, burnt after a
 * failure), origins and RP IDs, flags, tampered bytes, counters, and malformed or hostile
 * registration structures (CBOR, algorithms, credential ids). Each case asserts the exact
 * refusal (status and stable code) and that nothing was written.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import { isoCBOR } from '@simplewebauthn/server/helpers';
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

  it('burns the challenge when the response came from a frame of another site', async () => {
    for (const overrides of [{ crossOrigin: true }, { topOrigin: 'https://evil.example' }] as const) {
      const { http, page } = await signInPage();
      const opts = await options(http, page);
      await expectRefused(await postJson(http, page, '/passkey/verify', owner.getAssertion(opts, overrides)), 400, 'passkey_verification_failed');
      await expectRefused(await postJson(http, page, '/passkey/verify', owner.getAssertion(opts)), 400, 'passkey_challenge_invalid');
    }
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
    // The code of this interaction was never mailed to anyone, so guesses fail and no passkey can be added.
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

/** A value isoCBOR can encode. */
type CBORValue = Parameters<typeof isoCBOR.encode>[0];

/** The parts of a `none` attestation's authenticatorData (nothing in it is signed). */
interface AuthDataParts {
  head: Uint8Array; // rpIdHash | flags | signCount | aaguid (53 bytes)
  credentialId: Uint8Array;
  publicKey: Uint8Array; // COSE_Key
}

function splitAuthData(authData: Uint8Array): AuthDataParts {
  const length = Buffer.from(authData).readUInt16BE(53);
  const credentialId = authData.slice(55, 55 + length);
  return { head: authData.slice(0, 53), credentialId, publicKey: authData.slice(55 + length) };
}

function joinAuthData(parts: AuthDataParts): Uint8Array {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(parts.credentialId.length);
  return new Uint8Array(Buffer.concat([parts.head, length, parts.credentialId, parts.publicKey]));
}

/** Rewrites the attestation object of a registration response. */
function withAttestation(credential: RegistrationResponseJSON, edit: (attestation: Map<string, CBORValue>) => void): RegistrationResponseJSON {
  const attestation = isoCBOR.decodeFirst<Map<string, CBORValue>>(new Uint8Array(Buffer.from(credential.response.attestationObject, 'base64url')));
  edit(attestation);
  return { ...credential, response: { ...credential.response, attestationObject: Buffer.from(isoCBOR.encode(attestation)).toString('base64url') } };
}

function withAuthData(credential: RegistrationResponseJSON, edit: (parts: AuthDataParts) => AuthDataParts): RegistrationResponseJSON {
  return withAttestation(credential, (attestation) => {
    attestation.set('authData', joinAuthData(edit(splitAuthData(attestation.get('authData') as Uint8Array))));
  });
}

function withRawAttestation(credential: RegistrationResponseJSON, bytes: Uint8Array): RegistrationResponseJSON {
  return { ...credential, response: { ...credential.response, attestationObject: Buffer.from(bytes).toString('base64url') } };
}

/** A COSE_Key for a real P-384 key, announced as ES384 (-35): an algorithm Latchkey never offers. */
function es384PublicKey(): Uint8Array {
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' });
  return isoCBOR.encode(
    new Map<number, CBORValue>([
      [1, 2],
      [3, -35],
      [-1, 2],
      [-2, new Uint8Array(Buffer.from(jwk.x!, 'base64url'))],
      [-3, new Uint8Array(Buffer.from(jwk.y!, 'base64url'))],
    ]),
  );
}

describe('registration ceremony defences', () => {
  let server: TestServer;
  let rp: oidc.Configuration;
  let counter = 0;
  /** An account that already exists, and the credential id of its passkey. */
  let existingId: string;

  before(async () => {
    server = await startLatchkey();
    rp = await registerRelyingParty(server);
    const owner = new SoftwareAuthenticator({ origin: server.issuer });
    const http = new HttpClient(server.issuer);
    await signUp(http, server, owner, await openInteraction(http, (await authorizationRequest(rp)).url.href), 'first@example.com');
    existingId = owner.credentials[0]!.id;
  });
  after(() => server.close());

  /** A browser that proved a fresh email and holds creation options for it. */
  async function proven(): Promise<{ http: HttpClient; page: PageState; email: string; options: Parameters<SoftwareAuthenticator['createCredential']>[0] }> {
    const email = `reg${++counter}@example.com`;
    const http = new HttpClient(server.issuer);
    const page = await openInteraction(http, (await authorizationRequest(rp)).url.href);
    assert.equal((await postForm(http, page, '/signup', { email })).status, 303);
    assert.equal((await postForm(http, page, '/signup/code', { code: server.mailbox.lastCode(email) })).status, 303);
    const options = await postJson(http, page, '/signup/passkey/options', {});
    assert.equal(options.status, 200);
    return { http, page, email, options: await options.json() };
  }

  async function counts(): Promise<{ accounts: number; passkeys: number }> {
    return {
      accounts: Number((await server.db('accounts').count({ n: '*' }))[0]!.n),
      passkeys: Number((await server.db('passkeys').count({ n: '*' }))[0]!.n),
    };
  }

  /** Registers with a credential built from the options, expecting the exact refusal and nothing written. */
  async function refusedRegistration(
    build: (options: Parameters<SoftwareAuthenticator['createCredential']>[0], authenticator: SoftwareAuthenticator) => unknown,
    status: number,
    code: string,
    { burns = true }: { burns?: boolean } = {},
  ): Promise<void> {
    const before = await counts();
    const { http, page, email, options } = await proven();
    const authenticator = new SoftwareAuthenticator({ origin: server.issuer });
    await expectRefused(await postJson(http, page, '/signup/passkey/verify', build(options, authenticator)), status, code);
    assert.deepEqual(await counts(), before, 'nothing was written');
    assert.equal(await server.db('accounts').where({ email }).first(), undefined);
    // The challenge this response answered was burnt: even a good credential for it is refused now.
    if (burns) await expectRefused(await postJson(http, page, '/signup/passkey/verify', authenticator.createCredential(options)), 400, 'passkey_challenge_invalid');
  }

  it('accepts a good registration (the baseline for every case below)', async () => {
    const { http, page, options } = await proven();
    const res = await postJson(http, page, '/signup/passkey/verify', new SoftwareAuthenticator({ origin: server.issuer }).createCredential(options));
    assert.equal(res.status, 200);
  });

  for (const [name, overrides] of [
    ['the assertion type (webauthn.get)', { type: 'webauthn.get' }],
    ['another origin', { origin: 'https://evil.example' }],
    ['another RP ID hash', { rpId: 'example.com' }],
    ['a cross-origin frame', { crossOrigin: true }],
    ['a top origin', { topOrigin: 'https://evil.example' }],
    ['no user presence', { userPresent: false }],
    ['no user verification', { userVerified: false }],
  ] as const) {
    it(`refuses a new credential with ${name}`, async () => {
      await refusedRegistration((options, authenticator) => authenticator.createCredential(options, overrides), 400, 'passkey_verification_failed');
    });
  }

  it('refuses a challenge of another interaction (burning it there) and a made-up challenge', async () => {
    const other = await proven();
    await refusedRegistration((_options, authenticator) => authenticator.createCredential(other.options), 400, 'passkey_challenge_invalid', { burns: false });
    // Presented on the wrong interaction, the other browser's challenge is gone too.
    const late = new SoftwareAuthenticator({ origin: server.issuer }).createCredential(other.options);
    await expectRefused(await postJson(other.http, other.page, '/signup/passkey/verify', late), 400, 'passkey_challenge_invalid');
    await refusedRegistration(
      (options, authenticator) => authenticator.createCredential(options, { challenge: Buffer.alloc(32, 9).toString('base64url') }),
      400,
      'passkey_challenge_invalid',
      { burns: false },
    );
  });

  it('refuses a public key of an algorithm that was not offered (ES384)', async () => {
    await refusedRegistration(
      (options, authenticator) => {
        assert.ok(!options.pubKeyCredParams.some((p) => p.alg === -35), 'ES384 is not offered');
        return withAuthData(authenticator.createCredential(options), (parts) => ({ ...parts, publicKey: es384PublicKey() }));
      },
      400,
      'passkey_verification_failed',
    );
  });

  const truncated = (bytes: Uint8Array) => bytes.slice(0, Math.floor(bytes.length / 2));
  for (const [name, edit] of [
    ['garbage instead of CBOR', () => new Uint8Array(Buffer.from('this is not CBOR at all'))],
    ['a truncated attestation object', (good: Uint8Array) => truncated(good)],
    ['a map that announces more entries than it has', () => Uint8Array.of(0xa3, 0x63, 0x66, 0x6d, 0x74, 0x64, 0x6e, 0x6f, 0x6e, 0x65)],
    ['a byte string that announces 4 GB', () => Uint8Array.of(0xa1, 0x68, ...Buffer.from('authData'), 0x5a, 0xff, 0xff, 0xff, 0xff, 0x00)],
    ['a map that announces 2^32 entries', () => Uint8Array.of(0xba, 0xff, 0xff, 0xff, 0xff)],
    ['arrays nested 10,000 deep', () => new Uint8Array(10_000).fill(0x81)],
    ['an empty attestation object', () => new Uint8Array(0)],
  ] as const) {
    it(`refuses malformed CBOR: ${name}`, async () => {
      await refusedRegistration(
        (options, authenticator) => {
          const good = authenticator.createCredential(options);
          return withRawAttestation(good, edit(new Uint8Array(Buffer.from(good.response.attestationObject, 'base64url'))));
        },
        400,
        'passkey_verification_failed',
      );
    });
  }

  for (const [name, edit] of [
    ['authenticatorData cut short of its header', (parts: AuthDataParts) => ({ ...parts, head: parts.head.slice(0, 20), credentialId: new Uint8Array(0), publicKey: new Uint8Array(0) })],
    ['a credential id length beyond the data', (parts: AuthDataParts) => ({ ...parts, publicKey: parts.publicKey.slice(0, 10) })],
    ['trailing bytes after the public key', (parts: AuthDataParts) => ({ ...parts, publicKey: new Uint8Array(Buffer.concat([parts.publicKey, Buffer.alloc(512, 0x41)])) })],
    ['a public key that is not a COSE map', (parts: AuthDataParts) => ({ ...parts, publicKey: isoCBOR.encode('not a key') })],
  ] as const) {
    it(`refuses malformed authenticatorData: ${name}`, async () => {
      await refusedRegistration((options, authenticator) => withAuthData(authenticator.createCredential(options), edit), 400, 'passkey_verification_failed');
    });
  }

  it('refuses an attestation object over the body limit before parsing it', async () => {
    await refusedRegistration(
      (options, authenticator) => withRawAttestation(authenticator.createCredential(options), new Uint8Array(40 * 1024).fill(0x41)),
      413,
      'payload_too_large',
      // Refused before it is read, so the challenge is still there for a real attempt.
      { burns: false },
    );
  });

  it('refuses non-base64url credential ids', async () => {
    for (const id of ['not base64url!', 'a+b/c=', '', 'A'.repeat(10) + '\n']) {
      await refusedRegistration((options, authenticator) => ({ ...authenticator.createCredential(options), id, rawId: id }), 400, 'passkey_verification_failed');
    }
  });

  it('accepts a credential id of 1023 bytes and refuses one of 1024', async () => {
    const { http, page, options } = await proven();
    const longest = Buffer.alloc(1023, 7).toString('base64url');
    const ok = await postJson(http, page, '/signup/passkey/verify', new SoftwareAuthenticator({ origin: server.issuer }).createCredential(options, { credentialId: longest }));
    assert.equal(ok.status, 200, 'the WebAuthn maximum is allowed');
    await refusedRegistration(
      (options, authenticator) => authenticator.createCredential(options, { credentialId: Buffer.alloc(1024, 8).toString('base64url') }),
      400,
      'passkey_verification_failed',
    );
  });

  it('refuses a credential whose id differs from the one in authenticatorData (a short id hiding a long one)', async () => {
    await refusedRegistration(
      (options, authenticator) => ({ ...authenticator.createCredential(options, { credentialId: Buffer.alloc(1100, 3).toString('base64url') }), id: 'c2hvcnQ', rawId: 'c2hvcnQ' }),
      400,
      'passkey_verification_failed',
    );
    await refusedRegistration(
      (options, authenticator) => {
        const credential = authenticator.createCredential(options);
        const other = Buffer.alloc(32, 5).toString('base64url');
        return { ...credential, id: other, rawId: other };
      },
      400,
      'passkey_verification_failed',
    );
  });

  it('refuses a credential id that is already registered, and takes nothing over', async () => {
    const owner = await server.db('passkeys').where({ id: existingId }).first();
    await refusedRegistration((options, authenticator) => authenticator.createCredential(options, { credentialId: existingId }), 409, 'passkey_already_registered');
    assert.deepEqual(await server.db('passkeys').where({ id: existingId }).first(), owner, 'the registered passkey is untouched');
  });
});
