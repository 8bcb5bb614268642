import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as oidc from 'openid-client';
import { createAttestationCa, type AttestationCa } from '../helpers/attestation.ts';
import { SoftwareAuthenticator, type AuthenticatorOptions } from '../helpers/authenticator.ts';
import { INITIAL_ACCESS_TOKEN, startLatchkey, type TestServer } from '../helpers/app.ts';
import { finishAtApplication, openInteraction, postForm, postJson, signInWithPasskey } from '../helpers/flows.ts';
import { HttpClient } from '../helpers/http.ts';
import { authorizationRequest, redeem, registerRelyingParty, REDIRECT_URI } from '../helpers/rp.ts';

const YUBIKEY = 'cb69481e-8ff7-4039-93ec-0a2729a154a8';
const OTHER_MODEL = 'ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4';

describe('per-client passkey policy', () => {
  let server: TestServer;
  let ca: AttestationCa;
  let counter = 0;

  before(async () => {
    server = await startLatchkey();
    ca = await createAttestationCa();
  });
  after(() => server.close());

  function authenticator(options: Partial<AuthenticatorOptions> = {}) {
    return new SoftwareAuthenticator({ origin: server.issuer, ...options });
  }

  /** Tries a sign-up for the client with this authenticator; returns the registration response. */
  async function trySignUp(rp: oidc.Configuration, device: SoftwareAuthenticator) {
    const email = `person${++counter}@example.com`;
    const http = new HttpClient(server.issuer);
    const request = await authorizationRequest(rp);
    const page = await openInteraction(http, request.url.href);
    await postForm(http, page, '/signup', { email });
    await postForm(http, page, '/signup/code', { code: server.mailbox.lastCode(email) });
    const options = await (await postJson(http, page, '/signup/passkey/options', {})).json();
    const response = await postJson(http, page, '/signup/passkey/verify', device.createCredential(options as never));
    return { email, http, request, options: options as { attestation?: string; authenticatorSelection?: { userVerification?: string } }, response };
  }

  /** Signs in with an existing passkey for the client; returns the acr reached, or the error. */
  async function signInAcr(rp: oidc.Configuration, device: SoftwareAuthenticator, params: Record<string, string> = {}) {
    const http = new HttpClient(server.issuer);
    const request = await authorizationRequest(rp, params);
    const verified = await signInWithPasskey(http, device, await openInteraction(http, request.url.href));
    const body = (await verified.json()) as { redirectTo?: string; code?: string };
    if (verified.status !== 200) return { error: body.code };
    const callback = await finishAtApplication(http, body.redirectTo!);
    const error = new URL(callback).searchParams.get('error');
    if (error) return { error };
    const claims = (await redeem(rp, request, callback)).claims()!;
    return { acr: claims.acr, amr: claims.amr };
  }

  it('validates passkey_policy at registration', async () => {
    for (const policy of [
      'strict',
      { user_verification: 'sometimes' },
      { device_bound_only: 'yes' },
      { allowed_aaguids: ['not-an-aaguid'] },
      { trusted_roots: [ca.rootPem] },
      { attestation: 'direct', trusted_roots: ['not a certificate'] },
      { colour: 'blue' },
    ]) {
      const response = await fetch(server.url('/reg'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${INITIAL_ACCESS_TOKEN}` },
        body: JSON.stringify({ redirect_uris: [REDIRECT_URI], passkey_policy: policy }),
      });
      assert.equal(response.status, 400, JSON.stringify(policy));
      assert.equal(((await response.json()) as { error: string }).error, 'invalid_client_metadata');
    }
  });

  it('device_bound_only: a synced passkey can be neither registered nor used for that client', async () => {
    const strict = await registerRelyingParty(server, { passkey_policy: { device_bound_only: true } });
    const { email, response } = await trySignUp(strict, authenticator({ backupEligible: true }));
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { code: string }).code, 'passkey_not_allowed');
    assert.equal(await server.db('accounts').where({ email }).first(), undefined, 'nothing written');

    // A synced passkey made for a lenient client is refused by the strict one.
    const lenient = await registerRelyingParty(server);
    const synced = authenticator({ backupEligible: true });
    const made = await trySignUp(lenient, synced);
    assert.equal(made.response.status, 200);
    assert.deepEqual(await signInAcr(strict, synced), { error: 'passkey_not_allowed' });
    assert.equal((await signInAcr(lenient, synced)).acr, 'phr');

    const bound = authenticator();
    assert.equal((await trySignUp(strict, bound)).response.status, 200);
    assert.equal((await signInAcr(strict, bound)).acr, 'phrh');
  });

  it('allowed and denied authenticator models by AAGUID', async () => {
    const onlyYubikey = await registerRelyingParty(server, { passkey_policy: { allowed_aaguids: [YUBIKEY] } });
    assert.equal((await trySignUp(onlyYubikey, authenticator({ aaguid: OTHER_MODEL }))).response.status, 400);
    assert.equal((await trySignUp(onlyYubikey, authenticator({ aaguid: YUBIKEY }))).response.status, 200);

    const denyOther = await registerRelyingParty(server, { passkey_policy: { denied_aaguids: [OTHER_MODEL] } });
    assert.equal((await trySignUp(denyOther, authenticator({ aaguid: OTHER_MODEL }))).response.status, 400);
    const other = authenticator({ aaguid: OTHER_MODEL });
    assert.equal((await trySignUp(await registerRelyingParty(server), other)).response.status, 200);
    assert.deepEqual(await signInAcr(denyOther, other), { error: 'passkey_not_allowed' });
  });

  it('user_verification "preferred" accepts a passkey without UV at the possession-only level, never phr', async () => {
    const relaxed = await registerRelyingParty(server, { passkey_policy: { user_verification: 'preferred' } });
    const noUv = authenticator({ userVerification: false });
    const { options, response } = await trySignUp(relaxed, noUv);
    assert.equal(options.authenticatorSelection?.userVerification, 'preferred');
    assert.equal(response.status, 200);
    assert.deepEqual(await signInAcr(relaxed, noUv), { acr: 'urn:latchkey:acr:pop', amr: ['pop', 'hwk'] });
    assert.deepEqual(await signInAcr(relaxed, noUv, { acr_values: 'phr' }), { error: 'unmet_authentication_requirements' });
    // The same passkey is refused outright by a client that requires UV (the default).
    assert.deepEqual(await signInAcr(await registerRelyingParty(server), noUv), { error: 'passkey_verification_failed' });
  });

  it('attestation with trusted roots: only keys from the enterprise CA register, and only they count for phrh', async () => {
    const enterprise = await registerRelyingParty(server, { passkey_policy: { attestation: 'direct', trusted_roots: [ca.rootPem], device_bound_only: true } });
    const issued = authenticator({ aaguid: YUBIKEY, attestation: await ca.issue() });
    const { options, response } = await trySignUp(enterprise, issued);
    assert.equal(options.attestation, 'direct');
    assert.equal(response.status, 200, 'a key from the trusted CA registers');
    assert.equal((await signInAcr(enterprise, issued, { acr_values: 'phrh' })).acr, 'phrh');

    const foreignCa = await createAttestationCa('Someone Else CA');
    const foreign = await trySignUp(enterprise, authenticator({ aaguid: YUBIKEY, attestation: await foreignCa.issue() }));
    assert.equal(foreign.response.status, 400);
    assert.equal(((await foreign.response.json()) as { code: string }).code, 'passkey_not_allowed');
    assert.equal((await trySignUp(enterprise, authenticator())).response.status, 400, 'no attestation at all');

    // A device-bound passkey without trusted attestation, registered elsewhere, is phr for this client.
    const plain = authenticator();
    assert.equal((await trySignUp(await registerRelyingParty(server), plain)).response.status, 200);
    assert.deepEqual(await signInAcr(enterprise, plain, { acr_values: 'phrh' }), { error: 'unmet_authentication_requirements' });
    assert.equal((await signInAcr(enterprise, plain)).acr, 'phr');
  });
});
