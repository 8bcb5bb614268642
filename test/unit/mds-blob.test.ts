import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CompactSign } from 'jose';
import { parseMdsBlob } from '../../src/config/mds-blob.ts';
import { createAttestationCa } from '../helpers/attestation.ts';

const YUBIKEY = 'cb69481e-8ff7-4039-93ec-0a2729a154a8';
const ICON = 'data:image/png;base64,iVBORw0KGgo=';

async function signedBlob(payload: unknown, signer: Awaited<ReturnType<Awaited<ReturnType<typeof createAttestationCa>>['issue']>>) {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT', x5c: signer.chain.map((der) => Buffer.from(der).toString('base64')) })
    .sign(signer.privateKey);
}

const PAYLOAD = {
  no: 42,
  nextUpdate: '2027-01-01',
  entries: [
    {
      aaguid: YUBIKEY.toUpperCase(),
      metadataStatement: { description: 'YubiKey 5 Series', icon: ICON, attestationRootCertificates: ['MIIBroot='] },
      statusReports: [
        { status: 'FIDO_CERTIFIED_L1', effectiveDate: '2020-01-01' },
        { status: 'FIDO_CERTIFIED_L2', effectiveDate: '2022-06-01' },
      ],
    },
    { attestationCertificateKeyIdentifiers: ['abcd'], metadataStatement: { description: 'A U2F key' } },
    { aaguid: '11111111-2222-3333-4444-555555555555', metadataStatement: { description: 'Icon elsewhere', icon: 'https://evil.example/x.png' } },
  ],
};

describe('FIDO MDS BLOB', () => {
  it('reads names, icons, the newest status and roots from a BLOB signed under the configured root', async () => {
    const ca = await createAttestationCa('FIDO Test Root');
    const blob = await signedBlob(PAYLOAD, await ca.issue());
    const models = await parseMdsBlob(blob, ca.rootPem);
    assert.equal(models.length, 2, 'the U2F entry without an AAGUID is skipped');
    const { statement, ...model } = models[0]!;
    assert.deepEqual(model, { aaguid: YUBIKEY, name: 'YubiKey 5 Series', icon: ICON, status: 'FIDO_CERTIFIED_L2', statusReports: ['FIDO_CERTIFIED_L1', 'FIDO_CERTIFIED_L2'], attestationRoots: ['MIIBroot='] });
    assert.equal(statement.description, 'YubiKey 5 Series');
    assert.equal(models[1]!.icon, undefined, 'icons that are not data: images are dropped');
  });

  it('refuses a BLOB whose signer does not chain to the configured root', async () => {
    const trusted = await createAttestationCa('FIDO Test Root');
    const other = await createAttestationCa('Impostor Root');
    const blob = await signedBlob(PAYLOAD, await other.issue());
    await assert.rejects(parseMdsBlob(blob, trusted.rootPem), /does not lead to the configured root/);
  });

  it('refuses a BLOB whose payload was altered after signing', async () => {
    const ca = await createAttestationCa('FIDO Test Root');
    const [header, , signature] = (await signedBlob(PAYLOAD, await ca.issue())).split('.');
    const forged = Buffer.from(JSON.stringify({ ...PAYLOAD, entries: [] })).toString('base64url');
    await assert.rejects(parseMdsBlob(`${header}.${forged}.${signature}`, ca.rootPem));
  });

  it('refuses a BLOB without a certificate chain', async () => {
    const ca = await createAttestationCa('FIDO Test Root');
    const signer = await ca.issue();
    const blob = await new CompactSign(new TextEncoder().encode('{}')).setProtectedHeader({ alg: 'ES256' }).sign(signer.privateKey);
    await assert.rejects(parseMdsBlob(blob, ca.rootPem), /no x5c/);
  });
});
