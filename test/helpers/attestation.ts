// @peculiar/x509 needs the reflect-metadata polyfill loaded first (as @simplewebauthn/server does).
import 'reflect-metadata';
import { KeyObject, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 24 * 3600 * 1000;

/** A test attestation CA: a root, and leaf certificates as FIDO "packed" attestation requires them. */
export interface AttestationCa {
  readonly rootPem: string;
  /** A leaf for an authenticator model: chain (leaf, DER) and the leaf's private key. */
  issue(): Promise<{ chain: Uint8Array[]; privateKey: KeyObject }>;
}

export async function createAttestationCa(name = 'Test Enterprise CA'): Promise<AttestationCa> {
  const rootKeys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=${name}, O=Latchkey Tests, C=US`,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 365 * DAY),
    keys: rootKeys,
    signingAlgorithm: EC,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true)],
  });
  return {
    rootPem: root.toString('pem'),
    async issue() {
      const leafKeys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: '02',
        subject: 'CN=Test Security Key, OU=Authenticator Attestation, O=Latchkey Tests, C=US',
        issuer: root.subject,
        notBefore: new Date(Date.now() - DAY),
        notAfter: new Date(Date.now() + 365 * DAY),
        publicKey: leafKeys.publicKey,
        signingKey: rootKeys.privateKey,
        signingAlgorithm: EC,
        extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
      });
      return { chain: [new Uint8Array(leaf.rawData)], privateKey: KeyObject.from(leafKeys.privateKey) };
    },
  };
}
