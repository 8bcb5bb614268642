import type { AuthenticatorTransport, CredentialDeviceType } from '@simplewebauthn/server';

/** A stored passkey credential, as the verifier handed it back at registration and last use. */
export interface Passkey {
  /** Credential id, base64url. */
  readonly id: string;
  readonly accountId: string;
  /** COSE public key, base64url. */
  readonly publicKey: string;
  readonly counter: number;
  readonly transports: readonly AuthenticatorTransport[];
  readonly deviceType: CredentialDeviceType;
  readonly backedUp: boolean;
  readonly userVerified: boolean;
  readonly aaguid: string;
  readonly attestationChain: readonly string[];
  readonly name: string | null;
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
}

export interface PasskeyRepository {
  findById(id: string): Promise<Passkey | undefined>;
  listByAccount(accountId: string): Promise<Passkey[]>;
  /** Records a verified use. The stored counter only ever moves forward. */
  recordUse(id: string, use: { counter: number; backedUp: boolean; usedAt: number }): Promise<void>;
}

export type CeremonyPurpose = 'registration' | 'authentication';

/** What a challenge was issued for; checked again when it comes back. */
export interface ChallengeContext {
  /** Registration: the account the new passkey will belong to. */
  readonly userHandle?: string;
  /** Authentication restricted to one account (username-first, step-up). */
  readonly accountId?: string;
}

export interface ChallengeRecord {
  readonly challenge: string;
  readonly purpose: CeremonyPurpose;
  readonly interactionUid: string;
  readonly context: ChallengeContext;
  readonly expiresAt: number;
}

export interface ChallengeRepository {
  insert(record: ChallengeRecord): Promise<void>;
  /**
   * Deletes and returns the challenge if it was issued for this interaction and purpose and has
   * not expired; undefined otherwise. Atomic, so a challenge is used at most once.
   */
  consume(challenge: string, interactionUid: string, purpose: CeremonyPurpose, now: number): Promise<ChallengeRecord | undefined>;
}
