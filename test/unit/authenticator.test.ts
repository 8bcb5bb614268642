/**
 * Proves the software authenticator against the real relying-party library: what it produces must
 * verify, and each kind of misbehaviour must be rejected.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type WebAuthnCredential,
} from '@simplewebauthn/server';
import { isoBase64URL, isoCBOR } from '@simplewebauthn/server/helpers';
import {
  SoftwareAuthenticator,
  type AuthenticatorOptions,
  type CeremonyOverrides,
} from '../helpers/authenticator.ts';

const rpID = 'localhost';
const origin = 'http://localhost:3000';

/** Register a new credential and return what an RP would store, plus the authenticator. */
async function signUp(opts: Partial<AuthenticatorOptions> = {}) {
  const authenticator = new SoftwareAuthenticator({ origin, ...opts });
  const options = await generateRegistrationOptions({
    rpName: 'Latchkey test',
    rpID,
    userName: 'alice@example.com',
  });
  const response = authenticator.createCredential(options);
  const verification = await verifyRegistrationResponse({
    response,
    expectedChallenge: options.challenge,
    expectedOrigin: origin,
    expectedRPID: rpID,
    requireUserVerification: true,
  });
  assert.equal(verification.verified, true);
  return { authenticator, options, response, registrationInfo: verification.registrationInfo! };
}

async function signIn(
  authenticator: SoftwareAuthenticator,
  credential: WebAuthnCredential,
  overrides?: CeremonyOverrides,
) {
  const options = await generateAuthenticationOptions({ rpID, userVerification: 'required' });
  const response = authenticator.getAssertion(options, overrides);
  const verify = () =>
    verifyAuthenticationResponse({
      response,
      expectedChallenge: options.challenge,
      expectedOrigin: origin,
      expectedRPID: rpID,
      credential,
      requireUserVerification: true,
    });
  return { options, response, verify };
}

/**
 * The RP must not accept the response. The library throws for most problems, but for a bad
 * signature it returns `verified: false` instead, so both count as rejection.
 */
async function assertRejected(verify: () => Promise<{ verified: boolean }>, message?: RegExp) {
  let result: { verified: boolean };
  try {
    result = await verify();
  } catch (error) {
    if (message) assert.match((error as Error).message, message);
    return;
  }
  assert.equal(message, undefined, `expected ${message} error, got verified=${result.verified}`);
  assert.equal(result.verified, false);
}

describe('SoftwareAuthenticator', () => {
  describe('registration', () => {
    it('produces a response the library verifies (single-device by default)', async () => {
      const { authenticator, options, response, registrationInfo } = await signUp();

      assert.equal(registrationInfo.fmt, 'none');
      assert.equal(registrationInfo.aaguid, '00000000-0000-0000-0000-000000000000');
      assert.equal(registrationInfo.credentialDeviceType, 'singleDevice');
      assert.equal(registrationInfo.credentialBackedUp, false);
      assert.equal(registrationInfo.userVerified, true);
      assert.equal(registrationInfo.origin, origin);
      assert.equal(registrationInfo.rpID, rpID);
      assert.equal(registrationInfo.credential.id, response.id);
      assert.equal(registrationInfo.credential.counter, 0);

      const [stored] = authenticator.credentials;
      assert.ok(stored);
      assert.equal(authenticator.credentials.length, 1);
      assert.equal(stored.id, response.id);
      assert.equal(stored.rpId, rpID);
      assert.equal(stored.userHandle, options.user.id);
      assert.deepEqual(registrationInfo.credential.publicKey, stored.publicKeyCose);
    });

    it('looks like a browser response', async () => {
      const { response } = await signUp();

      assert.equal(response.type, 'public-key');
      assert.equal(response.rawId, response.id);
      assert.equal(isoBase64URL.toBuffer(response.id).length, 32);
      assert.equal(response.authenticatorAttachment, 'platform');
      assert.deepEqual(response.clientExtensionResults, { credProps: { rk: true } });
      assert.deepEqual(response.response.transports, ['internal']);
      assert.equal(response.response.publicKeyAlgorithm, -7);
      assert.ok(response.response.publicKey);
      assert.ok(response.response.authenticatorData);

      const attestation = isoCBOR.decodeFirst<Map<string, unknown>>(
        isoBase64URL.toBuffer(response.response.attestationObject),
      );
      assert.equal(attestation.get('fmt'), 'none');
      assert.equal((attestation.get('attStmt') as Map<string, unknown>).size, 0);
      assert.equal(
        isoBase64URL.fromBuffer(attestation.get('authData') as Uint8Array<ArrayBuffer>),
        response.response.authenticatorData,
      );

      const clientData = JSON.parse(isoBase64URL.toUTF8String(response.response.clientDataJSON));
      assert.equal(clientData.type, 'webauthn.create');
      assert.equal(clientData.origin, origin);
      assert.equal(clientData.crossOrigin, false);
      assert.equal('topOrigin' in clientData, false);
    });

    it('reports a synced passkey as multiDevice and honours the AAGUID', async () => {
      const aaguid = 'fbfc3007-154e-4ecc-8c0b-6e020557d7bd';
      const { registrationInfo } = await signUp({ backupEligible: true, aaguid });

      assert.equal(registrationInfo.credentialDeviceType, 'multiDevice');
      assert.equal(registrationInfo.credentialBackedUp, true);
      assert.equal(registrationInfo.aaguid, aaguid);
    });

    it('refuses when the RP does not accept ES256', async () => {
      const authenticator = new SoftwareAuthenticator({ origin });
      const options = await generateRegistrationOptions({
        rpName: 'Latchkey test',
        rpID,
        userName: 'alice@example.com',
        supportedAlgorithmIDs: [-257],
      });
      assert.throws(() => authenticator.createCredential(options), /ES256/);
      assert.equal(authenticator.credentials.length, 0);
    });

    it('refuses when excludeCredentials lists a credential it holds', async () => {
      const { authenticator, response } = await signUp();
      const options = await generateRegistrationOptions({
        rpName: 'Latchkey test',
        rpID,
        userName: 'alice@example.com',
        excludeCredentials: [{ id: response.id }],
      });
      assert.throws(() => authenticator.createCredential(options), /InvalidStateError/);
      assert.equal(authenticator.credentials.length, 1);
    });

    it('is rejected when the user was not verified', async () => {
      const authenticator = new SoftwareAuthenticator({ origin });
      const options = await generateRegistrationOptions({ rpName: 'x', rpID, userName: 'a' });
      const response = authenticator.createCredential(options, { userVerified: false });
      await assertRejected(
        () =>
          verifyRegistrationResponse({
            response,
            expectedChallenge: options.challenge,
            expectedOrigin: origin,
            expectedRPID: rpID,
            requireUserVerification: true,
          }),
        /verif/i,
      );
    });
  });

  describe('authentication', () => {
    it('signs assertions the library verifies, with counter 1 then 2', async () => {
      const { authenticator, options: regOptions, registrationInfo } = await signUp();
      const credential = { ...registrationInfo.credential };

      for (const expectedCounter of [1, 2]) {
        const { response, verify } = await signIn(authenticator, credential);
        const { verified, authenticationInfo } = await verify();

        assert.equal(verified, true);
        assert.equal(authenticationInfo.newCounter, expectedCounter);
        assert.equal(authenticationInfo.credentialDeviceType, 'singleDevice');
        assert.equal(authenticationInfo.userVerified, true);
        assert.equal(response.id, credential.id);
        assert.equal(response.rawId, response.id);
        assert.equal(response.type, 'public-key');
        assert.equal(response.authenticatorAttachment, 'platform');
        assert.deepEqual(response.clientExtensionResults, {});
        assert.equal(response.response.userHandle, regOptions.user.id);
        credential.counter = authenticationInfo.newCounter;
      }
      assert.equal(authenticator.credentials[0]?.counter, 2);
    });

    it('reports multiDevice for a synced passkey', async () => {
      const { authenticator, registrationInfo } = await signUp({ backupEligible: true });
      const { verify } = await signIn(authenticator, registrationInfo.credential);
      const { verified, authenticationInfo } = await verify();

      assert.equal(verified, true);
      assert.equal(authenticationInfo.credentialDeviceType, 'multiDevice');
      assert.equal(authenticationInfo.credentialBackedUp, true);
    });

    it('uses the first held credential from allowCredentials', async () => {
      const { authenticator } = await signUp();
      const second = authenticator.createCredential(
        await generateRegistrationOptions({ rpName: 'x', rpID, userName: 'bob' }),
      );
      const options = await generateAuthenticationOptions({
        rpID,
        allowCredentials: [{ id: 'bm90LWhlbGQ' }, { id: second.id }],
      });
      assert.equal(authenticator.getAssertion(options).id, second.id);

      // Discoverable: first credential for the RP, unless one is named explicitly.
      const discoverable = await generateAuthenticationOptions({ rpID });
      assert.equal(authenticator.getAssertion(discoverable).id, authenticator.credentials[0]?.id);
      const forced = authenticator.getAssertion(discoverable, { credentialId: second.id });
      assert.equal(forced.id, second.id);
    });

    it('throws when it holds no usable credential', async () => {
      const { authenticator } = await signUp();
      assert.throws(
        () => authenticator.getAssertion({ challenge: 'abc', rpId: 'example.com' }),
        /NotAllowedError/,
      );
      const notHeld = { id: 'bm90LWhlbGQ', type: 'public-key' } as const;
      assert.throws(
        () => authenticator.getAssertion({ challenge: 'abc', allowCredentials: [notHeld] }),
        /NotAllowedError/,
      );
    });

    it('can omit the userHandle and lie about the counter once', async () => {
      const { authenticator, registrationInfo } = await signUp();
      const { response } = await signIn(authenticator, registrationInfo.credential, {
        userHandle: null,
        counter: 7,
      });
      assert.equal('userHandle' in response.response, false);
      const authData = isoBase64URL.toBuffer(response.response.authenticatorData);
      assert.equal(Buffer.from(authData).readUInt32BE(33), 7);
      assert.equal(authenticator.credentials[0]?.counter, 0);
    });

    describe('misbehaviour is rejected', () => {
      const cases: [string, CeremonyOverrides, RegExp | undefined][] = [
        // A bad signature makes the library return verified: false rather than throw.
        ['tampered signature', { tamper: 'signature' }, undefined],
        ['tampered authenticatorData', { tamper: 'authenticatorData' }, undefined],
        ['tampered clientDataJSON', { tamper: 'clientDataJSON' }, undefined],
        ['wrong origin', { origin: 'http://evil.example' }, /origin/],
        ['wrong challenge', { challenge: isoBase64URL.fromUTF8String('replayed') }, /challenge/],
        ['user not verified', { userVerified: false }, /verif/],
        ['user not present', { userPresent: false }, /present/],
        ['wrong RP ID', { rpId: 'evil.example' }, /RP ID/],
        ['wrong type', { type: 'webauthn.create' }, /type/],
        ['replayed counter', { counter: 0 }, /counter/],
      ];
      for (const [name, overrides, message] of cases) {
        it(name, async () => {
          const { authenticator, registrationInfo } = await signUp();
          // Sign in once so the RP has a non-zero counter to compare against.
          const first = await signIn(authenticator, registrationInfo.credential);
          const credential = { ...registrationInfo.credential };
          credential.counter = (await first.verify()).authenticationInfo.newCounter;

          const { verify } = await signIn(authenticator, credential, overrides);
          await assertRejected(verify, message);
        });
      }

      it('tampering leaves everything but the signature intact', async () => {
        const { authenticator, registrationInfo } = await signUp();
        for (const tamper of ['signature', 'authenticatorData', 'clientDataJSON'] as const) {
          const { verify } = await signIn(authenticator, registrationInfo.credential, { tamper });
          const { verified } = await verify();
          assert.equal(verified, false, tamper);
        }
      });

      it('refuses to tamper with an (unsigned) registration', async () => {
        const authenticator = new SoftwareAuthenticator({ origin });
        const options = await generateRegistrationOptions({ rpName: 'x', rpID, userName: 'a' });
        assert.throws(() => authenticator.createCredential(options, { tamper: 'signature' }));
      });
    });

    it('puts topOrigin and crossOrigin in clientDataJSON only when asked', async () => {
      const { authenticator, registrationInfo } = await signUp();
      const decode = (r: AuthenticationResponseJSON) =>
        JSON.parse(isoBase64URL.toUTF8String(r.response.clientDataJSON));

      const plain = decode((await signIn(authenticator, registrationInfo.credential)).response);
      assert.deepEqual(Object.keys(plain), ['type', 'challenge', 'origin', 'crossOrigin']);
      assert.equal(plain.type, 'webauthn.get');

      const framed = await signIn(authenticator, registrationInfo.credential, {
        crossOrigin: true,
        topOrigin: 'https://top.example',
      });
      const clientData = decode(framed.response);
      assert.equal(clientData.crossOrigin, true);
      assert.equal(clientData.topOrigin, 'https://top.example');
      await assertRejected(framed.verify, /top origin/);
    });
  });
});
