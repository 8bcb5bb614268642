/**
 * A software WebAuthn authenticator (plus the client/browser half of the ceremony) for protocol
 * tests: it makes real ES256 credentials and signatures with node:crypto, so tests can sign up and
 * sign in against a relying party without a browser.
 *
 * It behaves like a platform passkey provider: every credential is discoverable, attestation is
 * always `none`, and responses are shaped like the JSON a browser's `PublicKeyCredential.toJSON()`
 * produces. `CeremonyOverrides` lets security tests make it misbehave in controlled ways.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoBase64URL, isoCBOR } from '@simplewebauthn/server/helpers';
import type {
  AuthenticationExtensionsClientOutputs,
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialDescriptorJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';

export interface AuthenticatorOptions {
  /** Origin reported in clientDataJSON, e.g. 'http://localhost:3000'. */
  origin: string;
  /** RP ID used when the ceremony options do not name one. Default: hostname of `origin`. */
  rpId?: string;
  /** Whether the authenticator verifies the user (UV flag). Default true. */
  userVerification?: boolean;
  /** BE flag: the credential may be synced (a "multiDevice" passkey). Default false. */
  backupEligible?: boolean;
  /** BS flag: the credential is currently backed up. Default: same as `backupEligible`. */
  backupState?: boolean;
  /** AAGUID as a UUID string. Default: all zeros (what most passkey providers send with `none`). */
  aaguid?: string;
  /**
   * Packed attestation with a certificate chain (leaf first, DER) and the leaf's private key;
   * default: attestation "none".
   */
  attestation?: { chain: Uint8Array[]; privateKey: KeyObject };
}

export interface StoredCredential {
  /** Credential ID, base64url. */
  id: string;
  privateKey: KeyObject;
  /** The credential public key as a COSE_Key (what the RP stores). */
  publicKeyCose: Uint8Array;
  rpId: string;
  /** `user.id` from the creation options, base64url. */
  userHandle: string;
  /** Signature counter last reported. */
  counter: number;
}

/** Knobs for security tests that make the authenticator (or the client) misbehave. */
export interface CeremonyOverrides {
  /** clientDataJSON.origin */
  origin?: string;
  /** RP ID hashed into authenticatorData (credential selection still uses the real RP ID). */
  rpId?: string;
  /** clientDataJSON.challenge */
  challenge?: string;
  /** clientDataJSON.type */
  type?: string;
  /** clientDataJSON.crossOrigin */
  crossOrigin?: boolean;
  /** clientDataJSON.topOrigin (only present when given) */
  topOrigin?: string;
  /** UP flag for this ceremony. Default true. */
  userPresent?: boolean;
  /** UV flag for this ceremony. Default: the authenticator's `userVerification`. */
  userVerified?: boolean;
  /**
   * signCount to report. On registration it is also stored; on assertion it is used for this
   * ceremony only and the stored counter is left untouched.
   */
  counter?: number;
  /**
   * Registration: the ID (base64url) to give the new credential, e.g. to try re-registering an
   * existing ID. Assertion: sign with this held credential, ignoring allowCredentials and RP ID.
   */
  credentialId?: string;
  /** Assertion only: userHandle to return; null omits it. Default: the credential's user handle. */
  userHandle?: string | null;
  /**
   * Assertion only: flip one byte after signing. Each flip leaves the response well-formed and
   * passing every check except the signature, so an RP only rejects it if it verifies signatures.
   */
  tamper?: 'signature' | 'authenticatorData' | 'clientDataJSON';
}

// authenticatorData flag bits (WebAuthn §6.1)
const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_BE = 0x08;
const FLAG_BS = 0x10;
const FLAG_AT = 0x40;

const COSE_ALG_ES256 = -7;

// Offsets within authenticatorData: rpIdHash(32) | flags(1) | signCount(4) | ...
const SIGN_COUNT_OFFSET = 33;

type Bytes = ReturnType<Uint8Array['slice']>;
/** A value isoCBOR can encode (tiny-cbor's CBORType, which is not a direct dependency). */
type CBORValue = Parameters<typeof isoCBOR.encode>[0];

/** Copy into a plain Uint8Array (Buffers are not assignable to the library's Uint8Array type). */
function bytes(data: Uint8Array): Bytes {
  return new Uint8Array(data);
}

function concat(...parts: Uint8Array[]): Bytes {
  return bytes(Buffer.concat(parts));
}

function sha256(data: Uint8Array | string): Bytes {
  return bytes(createHash('sha256').update(data).digest());
}

function uint32BE(value: number): Bytes {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value);
  return bytes(out);
}

function parseUuid(uuid: string): Bytes {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`Invalid AAGUID: ${uuid}`);
  return bytes(Buffer.from(hex, 'hex'));
}

/** Return a copy with one byte XORed, so the original (already signed) bytes stay intact. */
function flipByte(data: Uint8Array, index: number, mask: number): Bytes {
  const out = bytes(data);
  out[index] ^= mask;
  return out;
}

function b64url(data: Uint8Array): string {
  return isoBase64URL.fromBuffer(bytes(data));
}

export class SoftwareAuthenticator {
  readonly credentials: StoredCredential[] = [];

  private readonly origin: string;
  private readonly rpId: string;
  private readonly userVerification: boolean;
  private readonly backupEligible: boolean;
  private readonly backupState: boolean;
  private readonly aaguid: Bytes;
  private readonly attestation: AuthenticatorOptions['attestation'];

  constructor(opts: AuthenticatorOptions) {
    this.attestation = opts.attestation;
    this.origin = opts.origin;
    this.rpId = opts.rpId ?? new URL(opts.origin).hostname;
    this.userVerification = opts.userVerification ?? true;
    this.backupEligible = opts.backupEligible ?? false;
    this.backupState = opts.backupState ?? this.backupEligible;
    this.aaguid = parseUuid(opts.aaguid ?? '00000000-0000-0000-0000-000000000000');
  }

  /** navigator.credentials.create(): make a new discoverable ES256 credential. */
  createCredential(
    options: PublicKeyCredentialCreationOptionsJSON,
    overrides: CeremonyOverrides = {},
  ): RegistrationResponseJSON {
    if (overrides.tamper !== undefined || overrides.userHandle !== undefined) {
      // With `none` attestation nothing in a registration response is signed, so there is no
      // signature for a flipped byte to break; the user handle comes from options.user.id.
      throw new Error('tamper and userHandle overrides only apply to getAssertion()');
    }
    const acceptsES256 = options.pubKeyCredParams.some(
      (p) => p.type === 'public-key' && p.alg === COSE_ALG_ES256,
    );
    if (!acceptsES256) {
      throw new Error('NotSupportedError: the RP does not accept ES256 (alg -7)');
    }
    const rpId = options.rp.id ?? this.rpId;
    if (options.excludeCredentials?.some((d) => this.findHeld(d.id, rpId))) {
      throw new Error('InvalidStateError: authenticator already holds an excluded credential');
    }

    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const x = isoBase64URL.toBuffer(jwk.x!);
    const y = isoBase64URL.toBuffer(jwk.y!);
    // COSE_Key for EC2 / ES256 / P-256 (RFC 9053). Must be a CBOR map with integer keys, in
    // CTAP2 canonical order; a JS object would encode string keys.
    const publicKeyCose = isoCBOR.encode(
      new Map<number, CBORValue>([
        [1, 2], // kty: EC2
        [3, COSE_ALG_ES256], // alg
        [-1, 1], // crv: P-256
        [-2, x],
        [-3, y],
      ]),
    );

    const credentialId =
      overrides.credentialId !== undefined
        ? isoBase64URL.toBuffer(overrides.credentialId)
        : bytes(randomBytes(32));
    const counter = overrides.counter ?? 0;
    const credIdLength = Buffer.alloc(2);
    credIdLength.writeUInt16BE(credentialId.length);

    const authenticatorData = concat(
      sha256(overrides.rpId ?? rpId),
      Uint8Array.of(this.flags(overrides) | FLAG_AT),
      uint32BE(counter),
      // attestedCredentialData
      this.aaguid,
      credIdLength,
      credentialId,
      publicKeyCose,
    );
    const clientDataJSON = this.clientData('webauthn.create', options.challenge, overrides);
    // Packed attestation signs authenticatorData || SHA-256(clientDataJSON) with the attestation key.
    const attStmt = this.attestation
      ? new Map<string, CBORValue>([
          ['alg', -7],
          ['sig', bytes(sign('sha256', concat(authenticatorData, sha256(clientDataJSON)), this.attestation.privateKey))],
          ['x5c', this.attestation.chain.map((der) => bytes(der))],
        ])
      : new Map<string, CBORValue>();
    // Keys in CTAP2 canonical order (shorter first): fmt, attStmt, authData.
    const attestationObject = isoCBOR.encode(
      new Map<string, CBORValue>([
        ['fmt', this.attestation ? 'packed' : 'none'],
        ['attStmt', attStmt],
        ['authData', authenticatorData],
      ]),
    );

    const id = b64url(credentialId);
    this.credentials.push({
      id,
      privateKey,
      publicKeyCose,
      rpId,
      userHandle: options.user.id,
      counter,
    });

    const clientExtensionResults: AuthenticationExtensionsClientOutputs = {};
    // Every credential made here is discoverable, which is what credProps reports.
    if (options.extensions?.credProps) clientExtensionResults.credProps = { rk: true };

    return {
      id,
      rawId: id,
      type: 'public-key',
      response: {
        clientDataJSON: b64url(clientDataJSON),
        attestationObject: b64url(attestationObject),
        authenticatorData: b64url(authenticatorData),
        transports: ['internal'],
        publicKeyAlgorithm: COSE_ALG_ES256,
        publicKey: b64url(publicKey.export({ type: 'spki', format: 'der' })),
      },
      authenticatorAttachment: 'platform',
      clientExtensionResults,
    };
  }

  /** navigator.credentials.get(): sign an assertion with a held credential. */
  getAssertion(
    options: PublicKeyCredentialRequestOptionsJSON,
    overrides: CeremonyOverrides = {},
  ): AuthenticationResponseJSON {
    const rpId = options.rpId ?? this.rpId;
    const credential = this.selectCredential(
      rpId,
      options.allowCredentials,
      overrides.credentialId,
    );

    // An explicit counter is a one-off lie; the stored counter only moves on honest ceremonies.
    let counter: number;
    if (overrides.counter !== undefined) {
      counter = overrides.counter;
    } else {
      credential.counter += 1;
      counter = credential.counter;
    }

    const authenticatorData = concat(
      sha256(overrides.rpId ?? rpId),
      Uint8Array.of(this.flags(overrides)),
      uint32BE(counter),
    );
    const clientDataJSON = this.clientData('webauthn.get', options.challenge, overrides);
    // ECDSA P-256 over authenticatorData || SHA-256(clientDataJSON). Node emits DER for EC keys,
    // which is the encoding WebAuthn requires for ES256.
    const signature = bytes(
      sign('sha256', concat(authenticatorData, sha256(clientDataJSON)), credential.privateKey),
    );

    const sent = this.tamper(overrides.tamper, { authenticatorData, clientDataJSON, signature });
    const userHandle =
      overrides.userHandle === undefined ? credential.userHandle : overrides.userHandle;

    return {
      id: credential.id,
      rawId: credential.id,
      type: 'public-key',
      response: {
        clientDataJSON: b64url(sent.clientDataJSON),
        authenticatorData: b64url(sent.authenticatorData),
        signature: b64url(sent.signature),
        ...(userHandle !== null && { userHandle }),
      },
      authenticatorAttachment: 'platform',
      clientExtensionResults: {},
    };
  }

  private findHeld(id: string, rpId: string): StoredCredential | undefined {
    return this.credentials.find((c) => c.id === id && c.rpId === rpId);
  }

  private selectCredential(
    rpId: string,
    allowCredentials: PublicKeyCredentialDescriptorJSON[] | undefined,
    forcedId: string | undefined,
  ): StoredCredential {
    let credential: StoredCredential | undefined;
    if (forcedId !== undefined) {
      credential = this.credentials.find((c) => c.id === forcedId);
    } else if (allowCredentials && allowCredentials.length > 0) {
      // Like a real authenticator, only credentials scoped to this RP ID are candidates.
      for (const descriptor of allowCredentials) {
        credential = this.findHeld(descriptor.id, rpId);
        if (credential) break;
      }
    } else {
      credential = this.credentials.find((c) => c.rpId === rpId);
    }
    if (!credential) {
      throw new Error(`NotAllowedError: no matching credential for RP ID "${rpId}"`);
    }
    return credential;
  }

  private flags(overrides: CeremonyOverrides): number {
    let flags = 0;
    if (overrides.userPresent ?? true) flags |= FLAG_UP;
    if (overrides.userVerified ?? this.userVerification) flags |= FLAG_UV;
    if (this.backupEligible) flags |= FLAG_BE;
    if (this.backupState) flags |= FLAG_BS;
    return flags;
  }

  private clientData(type: string, challenge: string, overrides: CeremonyOverrides): Bytes {
    const clientData: Record<string, unknown> = {
      type: overrides.type ?? type,
      challenge: overrides.challenge ?? challenge,
      origin: overrides.origin ?? this.origin,
      crossOrigin: overrides.crossOrigin ?? false,
    };
    if (overrides.topOrigin !== undefined) clientData.topOrigin = overrides.topOrigin;
    return bytes(Buffer.from(JSON.stringify(clientData), 'utf8'));
  }

  private tamper(
    target: CeremonyOverrides['tamper'],
    signed: { authenticatorData: Bytes; clientDataJSON: Bytes; signature: Bytes },
  ): { authenticatorData: Bytes; clientDataJSON: Bytes; signature: Bytes } {
    switch (target) {
      case undefined:
        return signed;
      case 'signature':
        // The last byte belongs to the integer s, so the DER structure stays valid and only the
        // cryptographic check can fail.
        return {
          ...signed,
          signature: flipByte(signed.signature, signed.signature.length - 1, 0x01),
        };
      case 'authenticatorData':
        // Flip a low bit of the signCount's most significant byte: for any realistic counter it
        // grows by 2^24, so it still passes a "counter must increase" check, and the RP ID hash
        // and flags are untouched.
        return {
          ...signed,
          authenticatorData: flipByte(signed.authenticatorData, SIGN_COUNT_OFFSET, 0x01),
        };
      case 'clientDataJSON': {
        // Lower-case the 'O' of the "crossOrigin" key. The JSON stays valid, type/challenge/origin
        // are unchanged, and a missing crossOrigin means false, so only the signature catches it.
        const index = Buffer.from(signed.clientDataJSON).indexOf('"crossOrigin"') + '"cross'.length;
        return { ...signed, clientDataJSON: flipByte(signed.clientDataJSON, index, 0x20) };
      }
    }
  }
}
