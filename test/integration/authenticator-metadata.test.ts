import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CompactSign } from 'jose';
import type * as oidc from 'openid-client';
import { ConfigError } from '../../src/config/env.ts';
import { createAttestationCa, type AttestationCa } from '../helpers/attestation.ts';
import { SoftwareAuthenticator } from '../helpers/authenticator.ts';
import { startLatchkey, type TestServer } from '../helpers/app.ts';
import { openInteraction, postForm, postJson, signInWithPasskey } from '../helpers/flows.ts';
import { HttpClient } from '../helpers/http.ts';
import { authorizationRequest, registerRelyingParty } from '../helpers/rp.ts';

// Runs in its own process: @simplewebauthn/server's MetadataService is process-wide.
const YUBIKEY = 'cb69481e-8ff7-4039-93ec-0a2729a154a8';
/** A model whose keys were reported extractable, then "fixed" by a firmware update. */
const LEAKY = '1eaf1eaf-0000-4000-8000-000000000001';
/** A model whose certification was revoked: no new passkeys, existing ones keep working. */
const REVOKED = '5e7c0de0-0000-4000-8000-000000000002';

describe('authenticator metadata from a FIDO MDS BLOB', () => {
  let server: TestServer;
  let rp: oidc.Configuration;
  let vendor: AttestationCa;
  let counter = 0;
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-mds-'));

  before(async () => {
    const fido = await createAttestationCa('FIDO Test MDS Root');
    vendor = await createAttestationCa('Yubico Test Attestation Root');
    const signer = await fido.issue();
    const payload = {
      no: 1,
      nextUpdate: '2099-01-01',
      entries: [
        {
          aaguid: YUBIKEY,
          metadataStatement: {
            aaguid: YUBIKEY,
            description: 'YubiKey 5 Series',
            attestationTypes: ['basic_full'],
            authenticationAlgorithms: ['secp256r1_ecdsa_sha256_raw'],
            attestationRootCertificates: [new X509Certificate(vendor.rootPem).raw.toString('base64')],
          },
          statusReports: [{ status: 'FIDO_CERTIFIED_L2', effectiveDate: '2022-01-01' }],
        },
        {
          aaguid: LEAKY,
          metadataStatement: { aaguid: LEAKY, description: 'Leaky Key', attestationTypes: ['basic_full'], authenticationAlgorithms: ['secp256r1_ecdsa_sha256_raw'], attestationRootCertificates: [] },
          statusReports: [
            { status: 'FIDO_CERTIFIED_L1', effectiveDate: '2020-01-01' },
            { status: 'USER_KEY_REMOTE_COMPROMISE', effectiveDate: '2023-01-01' },
            { status: 'UPDATE_AVAILABLE', effectiveDate: '2024-01-01' },
          ],
        },
        {
          aaguid: REVOKED,
          metadataStatement: { aaguid: REVOKED, description: 'Revoked Key', attestationTypes: ['basic_full'], authenticationAlgorithms: ['secp256r1_ecdsa_sha256_raw'], attestationRootCertificates: [] },
          statusReports: [{ status: 'REVOKED', effectiveDate: '2024-01-01' }],
        },
      ],
    };
    const blob = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', x5c: signer.chain.map((der) => Buffer.from(der).toString('base64')) })
      .sign(signer.privateKey);
    writeFileSync(join(dir, 'blob.jwt'), blob);
    writeFileSync(join(dir, 'root.pem'), fido.rootPem);
    server = await startLatchkey({ env: { LATCHKEY_MDS_BLOB: join(dir, 'blob.jwt'), LATCHKEY_MDS_ROOT: join(dir, 'root.pem') } });
    rp = await registerRelyingParty(server, { passkey_policy: { attestation: 'direct' } });
  });
  after(() => server?.close());

  async function register(device: SoftwareAuthenticator, client = rp): Promise<Response> {
    const email = `mds${++counter}@example.com`;
    const http = new HttpClient(server.issuer);
    const page = await openInteraction(http, (await authorizationRequest(client)).url.href);
    await postForm(http, page, '/signup', { email });
    await postForm(http, page, '/signup/code', { code: server.mailbox.lastCode(email) });
    const options = await (await postJson(http, page, '/signup/passkey/options', {})).json();
    return postJson(http, page, '/signup/passkey/verify', device.createCredential(options as never));
  }

  it('accepts a known model whose attestation chains to its published root', async () => {
    const genuine = new SoftwareAuthenticator({ origin: server.issuer, aaguid: YUBIKEY, attestation: await vendor.issue() });
    assert.equal((await register(genuine)).status, 200);
  });

  it('refuses an attestation that claims a known model but chains elsewhere', async () => {
    const counterfeit = await createAttestationCa('Counterfeit Factory');
    const fake = new SoftwareAuthenticator({ origin: server.issuer, aaguid: YUBIKEY, attestation: await counterfeit.issue() });
    const response = await register(fake);
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { code: string }).code, 'passkey_verification_failed');
  });

  it('refuses new passkeys of a model reported unsafe, even after a later "update available"', async () => {
    const plain = await registerRelyingParty(server); // no attestation asked: the AAGUID alone decides
    for (const aaguid of [LEAKY, REVOKED]) {
      const accounts = Number((await server.db('accounts').count({ n: '*' }))[0]!.n);
      const response = await register(new SoftwareAuthenticator({ origin: server.issuer, aaguid }), plain);
      assert.equal(response.status, 400, aaguid);
      assert.equal(((await response.json()) as { code: string }).code, 'passkey_model_compromised');
      assert.equal(Number((await server.db('accounts').count({ n: '*' }))[0]!.n), accounts, 'no account either');
    }
  });

  it('stops existing passkeys of a model whose keys leaked from signing in; a revoked certification alone does not', async () => {
    const plain = await registerRelyingParty(server);
    const signInWith = async (device: SoftwareAuthenticator) => {
      const http = new HttpClient(server.issuer);
      return signInWithPasskey(http, device, await openInteraction(http, (await authorizationRequest(plain)).url.href));
    };
    // Registered as an unlisted model; the MDS lists its model afterwards (the row says which it is).
    for (const [aaguid, refused] of [[LEAKY, true], [REVOKED, false]] as const) {
      const device = new SoftwareAuthenticator({ origin: server.issuer });
      assert.equal((await register(device, plain)).status, 200);
      await server.db('passkeys').where({ id: device.credentials[0]!.id }).update({ aaguid });
      const response = await signInWith(device);
      if (refused) {
        assert.equal(response.status, 400);
        assert.equal(((await response.json()) as { code: string }).code, 'passkey_model_compromised');
      } else {
        assert.equal(response.status, 200, aaguid);
      }
    }
  });

  it('refuses to start with a BLOB that does not verify, naming the variable', async () => {
    const other = await createAttestationCa('Unrelated Root');
    writeFileSync(join(dir, 'wrong-root.pem'), other.rootPem);
    await assert.rejects(
      startLatchkey({ env: { LATCHKEY_MDS_BLOB: join(dir, 'blob.jwt'), LATCHKEY_MDS_ROOT: join(dir, 'wrong-root.pem') } }),
      (error: unknown) => error instanceof ConfigError && error.variable === 'LATCHKEY_MDS_BLOB',
    );
    await assert.rejects(
      startLatchkey({ env: { LATCHKEY_MDS_BLOB: join(dir, 'blob.jwt') } }),
      (error: unknown) => error instanceof ConfigError && error.variable === 'LATCHKEY_MDS_ROOT',
    );
  });
});
