import { createHmac, randomBytes } from 'node:crypto';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransport,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Clock } from '../clock.ts';
import { DomainError } from '../errors.ts';
import { isoCBOR } from '@simplewebauthn/server/helpers';
import type { AcrNames } from '../../config/env.ts';
import type { AuthContext } from '../auth-context.ts';
import { assertNotEmbedded, isCredentialId, readClientData } from './client-data.ts';
import { AuthenticatorStatuses } from './authenticator-status.ts';
import { assertRegistrationAllowed, authContextUnderPolicy, DEFAULT_POLICY, type PasskeyPolicy } from './policy.ts';
import { SUPPORTED_ALGORITHMS, type RelyingParty } from './relying-party.ts';
import type { CeremonyPurpose, ChallengeContext, ChallengeRecord, ChallengeRepository, Passkey, PasskeyRepository } from './types.ts';

/** A new credential the server verified, ready to store. */
export interface NewPasskey {
  readonly id: string;
  readonly publicKey: string;
  readonly counter: number;
  readonly transports: AuthenticatorTransport[];
  readonly deviceType: 'singleDevice' | 'multiDevice';
  readonly backedUp: boolean;
  readonly userVerified: boolean;
  readonly aaguid: string;
  readonly attestationFmt: string;
  /** Attestation certificates, leaf first (base64 DER); empty for attestation "none". */
  readonly attestationChain: string[];
}

/** The outcome of a verified assertion: the credential (and so the account) and what was proven. */
export interface VerifiedSignIn {
  readonly passkey: Passkey;
  /** What the client's policy says this assertion is worth. */
  readonly context: AuthContext;
}

export interface RegistrationRequest {
  readonly interactionUid: string;
  readonly userHandle: string;
  readonly userName: string;
  readonly displayName: string;
  /** Credentials the account already has, so the authenticator does not make a second one. */
  readonly existing: readonly Passkey[];
}

/**
 * WebAuthn ceremonies on top of @simplewebauthn/server. Challenges live on the server, bound to
 * one interaction and purpose, and are consumed before verification so a failed try burns them.
 */
export class PasskeyCeremonies {
  constructor(
    private readonly rp: RelyingParty,
    private readonly challenges: ChallengeRepository,
    private readonly passkeys: PasskeyRepository,
    private readonly clock: Clock,
    /** FIDO MDS reports against authenticator models (none without LATCHKEY_MDS_BLOB). */
    private readonly statuses: AuthenticatorStatuses = AuthenticatorStatuses.none,
  ) {}

  async registrationOptions(request: RegistrationRequest, policy: PasskeyPolicy = DEFAULT_POLICY): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const options = await generateRegistrationOptions({
      rpName: this.rp.name,
      rpID: this.rp.id,
      userName: request.userName,
      userDisplayName: request.displayName,
      userID: Buffer.from(request.userHandle, 'base64url'),
      // simplewebauthn has no "indirect": both ask the authenticator for its attestation.
      attestationType: policy.attestation === 'none' ? 'none' : 'direct',
      excludeCredentials: request.existing.map((p) => ({ id: p.id, transports: [...p.transports] })),
      authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: policy.userVerification },
      supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
      timeout: this.rp.challengeTtl * 1000,
    });
    await this.storeChallenge(options.challenge, 'registration', request.interactionUid, { userHandle: request.userHandle });
    return options;
  }

  /** Verifies a new credential for the user handle the challenge was issued to. */
  async verifyRegistration(interactionUid: string, response: unknown, policy: PasskeyPolicy = DEFAULT_POLICY): Promise<{ passkey: NewPasskey; userHandle: string }> {
    const record = await this.consumeChallenge(response, interactionUid, 'registration');
    if (!record.context.userHandle) throw new DomainError('passkey_challenge_invalid', 'This passkey request is not valid any more.');
    const body = response as RegistrationResponseJSON;
    if (!isCredentialId(body.id)) throw new DomainError('passkey_verification_failed', 'The passkey response is malformed.');
    let result;
    try {
      result = await verifyRegistrationResponse({
        response: body,
        expectedChallenge: record.challenge,
        expectedOrigin: [...this.rp.origins],
        expectedRPID: this.rp.id,
        expectedType: 'webauthn.create',
        requireUserVerification: policy.userVerification === 'required',
        supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
      });
    } catch (cause) {
      throw verificationError(cause);
    }
    if (!result.verified) throw new DomainError('passkey_verification_failed', 'The passkey could not be verified.');
    const info = result.registrationInfo;
    // The library does not tie the response's id to the credential id inside authenticatorData:
    // the id stored (and checked for length and uniqueness) must be the one the browser reported.
    if (info.credential.id !== body.id) throw new DomainError('passkey_verification_failed', 'The passkey response is malformed.');
    if (!info.userVerified && policy.userVerification === 'required') {
      throw new DomainError('passkey_user_verification_required', 'Your device must confirm it is you (PIN, fingerprint or face).');
    }
    if (await this.passkeys.findById(info.credential.id)) {
      throw new DomainError('passkey_already_registered', 'This passkey is already registered.');
    }
    const attestationChain = attestationCertificates(info.attestationObject);
    this.statuses.assertMayRegister(info.aaguid);
    assertRegistrationAllowed(policy, { aaguid: info.aaguid, backupEligible: info.credentialDeviceType === 'multiDevice', attestationChain });
    return {
      userHandle: record.context.userHandle,
      passkey: {
        id: info.credential.id,
        publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
        counter: info.credential.counter,
        transports: (info.credential.transports ?? []).filter(isTransport).slice(0, 8),
        deviceType: info.credentialDeviceType,
        backedUp: info.credentialBackedUp,
        userVerified: info.userVerified,
        aaguid: info.aaguid,
        attestationFmt: info.fmt,
        attestationChain,
      },
    };
  }

  /**
   * Options for signing in. Without an account: a discoverable-credential request (the
   * authenticator offers its passkeys). With an account: restricted to that account's passkeys.
   */
  async authenticationOptions(
    interactionUid: string,
    restrictTo?: { accountId: string; passkeys: readonly Passkey[] } | { decoyCredentialIds: readonly string[] },
    policy: PasskeyPolicy = DEFAULT_POLICY,
  ): Promise<PublicKeyCredentialRequestOptionsJSON> {
    let allowCredentials: { id: string; transports?: string[] }[] | undefined;
    let context: ChallengeContext = {};
    if (restrictTo && 'accountId' in restrictTo) {
      allowCredentials = restrictTo.passkeys.map((p) => ({ id: p.id, transports: p.transports.length > 0 ? [...p.transports] : undefined }));
      context = { accountId: restrictTo.accountId };
    } else if (restrictTo) {
      // Unknown account: look the same as a known one, so the response does not reveal who exists.
      // No transport hints (username-first sign-in sends none for real accounts either).
      allowCredentials = restrictTo.decoyCredentialIds.map((id) => ({ id, transports: undefined }));
      context = { accountId: '' };
    }
    const options = await generateAuthenticationOptions({
      rpID: this.rp.id,
      allowCredentials,
      userVerification: policy.userVerification,
      timeout: this.rp.challengeTtl * 1000,
    });
    await this.storeChallenge(options.challenge, 'authentication', interactionUid, context);
    return options;
  }

  /**
   * Verifies an assertion; the account is the stored credential's owner, whatever the browser
   * says, and what it is worth comes from the client's policy and the server's own checks.
   */
  async verifyAuthentication(interactionUid: string, response: unknown, policy: PasskeyPolicy, acr: AcrNames): Promise<VerifiedSignIn> {
    const record = await this.consumeChallenge(response, interactionUid, 'authentication');
    const body = response as AuthenticationResponseJSON;
    if (!isCredentialId(body?.id) || body.rawId !== body.id) {
      throw new DomainError('passkey_verification_failed', 'The passkey response is malformed.');
    }
    const passkey = await this.passkeys.findById(body.id);
    if (!passkey) {
      throw new DomainError('passkey_unknown_credential', 'This passkey is not registered here. It may have been removed.');
    }
    // A restricted ceremony (username-first or step-up) only accepts that account's passkeys.
    if (record.context.accountId !== undefined && record.context.accountId !== passkey.accountId) {
      throw new DomainError('passkey_wrong_account', 'This passkey belongs to another account.');
    }
    let result;
    try {
      result = await verifyAuthenticationResponse({
        response: body,
        expectedChallenge: record.challenge,
        expectedOrigin: [...this.rp.origins],
        expectedRPID: this.rp.id,
        expectedType: 'webauthn.get',
        requireUserVerification: policy.userVerification === 'required',
        credential: {
          id: passkey.id,
          publicKey: Buffer.from(passkey.publicKey, 'base64url'),
          counter: passkey.counter,
          transports: [...passkey.transports],
        },
      });
    } catch (cause) {
      throw verificationError(cause);
    }
    const info = result.authenticationInfo;
    if (!result.verified) throw new DomainError('passkey_verification_failed', 'The passkey could not be verified.');
    this.statuses.assertMaySignIn(passkey.aaguid);
    const context = authContextUnderPolicy(
      policy,
      {
        userVerified: info.userVerified,
        backupEligible: info.credentialDeviceType === 'multiDevice',
        aaguid: passkey.aaguid,
        attestationChain: passkey.attestationChain,
      },
      acr,
    );
    await this.passkeys.recordUse(passkey.id, { counter: info.newCounter, backedUp: info.credentialBackedUp, usedAt: this.clock() });
    return { passkey, context };
  }

  private async storeChallenge(challenge: string, purpose: CeremonyPurpose, interactionUid: string, context: ChallengeContext): Promise<void> {
    await this.challenges.insert({
      challenge,
      purpose,
      interactionUid,
      context,
      expiresAt: this.clock() + this.rp.challengeTtl * 1000,
    });
  }

  private async consumeChallenge(response: unknown, interactionUid: string, purpose: CeremonyPurpose): Promise<ChallengeRecord> {
    const clientData = readClientData(response);
    // Consumed before verification: a response that fails still burns its challenge.
    const record = await this.challenges.consume(clientData.challenge, interactionUid, purpose, this.clock());
    assertNotEmbedded(clientData);
    if (!record) {
      throw new DomainError('passkey_challenge_invalid', 'This passkey request has expired or was already used. Please try again.');
    }
    return record;
  }
}

/** Deterministic stand-in credential ids for an unknown email, so lookups look alike. */
export function decoyCredentialIds(secret: Buffer, email: string): string[] {
  return [createHmac('sha256', secret).update(`decoy:${email}`).digest().toString('base64url')];
}

const TRANSPORTS = new Set<string>(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);

/** Transports come from the browser: keep only known names. */
function isTransport(value: unknown): value is AuthenticatorTransport {
  return typeof value === 'string' && TRANSPORTS.has(value);
}

/** The x5c certificates of a verified attestation statement (base64 DER), or none. */
function attestationCertificates(attestationObject: Uint8Array): string[] {
  try {
    const decoded = isoCBOR.decodeFirst<Map<string, unknown>>(new Uint8Array(attestationObject));
    const x5c = (decoded.get('attStmt') as Map<string, unknown> | undefined)?.get('x5c');
    return Array.isArray(x5c) ? x5c.map((der: Uint8Array) => Buffer.from(der).toString('base64')) : [];
  } catch {
    return [];
  }
}

function verificationError(cause: unknown): DomainError {
  return new DomainError('passkey_verification_failed', 'The passkey could not be verified. Please try again.', { cause });
}

/** A fresh random WebAuthn user handle (user.id): 32 bytes, unrelated to the person. */
export function newUserHandle(): string {
  return randomBytes(32).toString('base64url');
}
