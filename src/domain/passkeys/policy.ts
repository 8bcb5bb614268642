import { X509Certificate } from 'node:crypto';
import type { AcrNames } from '../../config/env.ts';
import { authContextFromPasskey, authContextFromPossession, type AuthContext } from '../auth-context.ts';
import { DomainError } from '../errors.ts';

/**
 * A client's rules for passkeys (client metadata `passkey_policy`): what may be registered for
 * it and what an assertion is worth to it. Every field is optional in metadata; absent means
 * the strict defaults below.
 */
export interface PasskeyPolicy {
  /** `required`: no assertion without UV. `preferred`: accepted without UV, at the possession-only level. */
  readonly userVerification: 'required' | 'preferred';
  /** Only device-bound (not backup-eligible) passkeys may be registered or used. */
  readonly deviceBoundOnly: boolean;
  /** When set, only these authenticator models (AAGUIDs) may be registered or used. */
  readonly allowedAaguids: readonly string[] | undefined;
  readonly deniedAaguids: readonly string[];
  /** Attestation conveyance asked for at registration. */
  readonly attestation: 'none' | 'indirect' | 'direct';
  /** PEM roots; with them, a passkey counts for phrh only if its attestation chains to one. */
  readonly trustedRoots: readonly string[];
}

export const DEFAULT_POLICY: PasskeyPolicy = Object.freeze({
  userVerification: 'required',
  deviceBoundOnly: false,
  allowedAaguids: undefined,
  deniedAaguids: [],
  attestation: 'none',
  trustedRoots: [],
});

const AAGUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Parses `passkey_policy` client metadata; throws a message fit for invalid_client_metadata. */
export function parsePasskeyPolicy(raw: unknown): PasskeyPolicy {
  if (raw === undefined || raw === null) return DEFAULT_POLICY;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new Error('passkey_policy must be an object');
  const known = ['user_verification', 'device_bound_only', 'allowed_aaguids', 'denied_aaguids', 'attestation', 'trusted_roots'];
  const input = raw as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!known.includes(key)) throw new Error(`passkey_policy.${key} is not a known field (${known.join(', ')})`);
  }
  const aaguids = (key: string): string[] | undefined => {
    const list = input[key];
    if (list === undefined) return undefined;
    if (!Array.isArray(list) || !list.every((a) => typeof a === 'string' && AAGUID.test(a.toLowerCase()))) {
      throw new Error(`passkey_policy.${key} must be an array of AAGUIDs like 00000000-0000-0000-0000-000000000000`);
    }
    return list.map((a: string) => a.toLowerCase());
  };
  const uv = input.user_verification ?? 'required';
  if (uv !== 'required' && uv !== 'preferred') throw new Error('passkey_policy.user_verification must be "required" or "preferred"');
  const attestation = input.attestation ?? 'none';
  if (attestation !== 'none' && attestation !== 'indirect' && attestation !== 'direct') {
    throw new Error('passkey_policy.attestation must be "none", "indirect" or "direct"');
  }
  const deviceBoundOnly = input.device_bound_only ?? false;
  if (typeof deviceBoundOnly !== 'boolean') throw new Error('passkey_policy.device_bound_only must be a boolean');
  const roots = input.trusted_roots ?? [];
  if (!Array.isArray(roots) || !roots.every((r) => typeof r === 'string')) throw new Error('passkey_policy.trusted_roots must be an array of PEM certificates');
  for (const pem of roots as string[]) {
    try {
      new X509Certificate(pem);
    } catch {
      throw new Error('passkey_policy.trusted_roots holds something that is not a PEM certificate');
    }
  }
  if (roots.length > 0 && attestation === 'none') throw new Error('passkey_policy.trusted_roots needs attestation "direct" or "indirect"');
  return Object.freeze({
    userVerification: uv,
    deviceBoundOnly,
    allowedAaguids: aaguids('allowed_aaguids'),
    deniedAaguids: aaguids('denied_aaguids') ?? [],
    attestation,
    trustedRoots: roots as string[],
  });
}

/** What the server verified about a credential, at registration or in an assertion. */
export interface CredentialFacts {
  readonly aaguid: string;
  readonly backupEligible: boolean;
  /** Attestation certificates, leaf first (DER, base64), as verified at registration; empty for "none". */
  readonly attestationChain: readonly string[];
}

/** Refuses a credential model or kind the client does not accept. */
export function assertCredentialAllowed(policy: PasskeyPolicy, facts: CredentialFacts): void {
  const aaguid = facts.aaguid.toLowerCase();
  if (policy.deniedAaguids.includes(aaguid) || (policy.allowedAaguids && !policy.allowedAaguids.includes(aaguid))) {
    throw new DomainError('passkey_not_allowed', 'This application does not accept this kind of passkey. Use another device or security key.');
  }
  if (policy.deviceBoundOnly && facts.backupEligible) {
    throw new DomainError('passkey_not_allowed', 'This application needs a passkey that stays on one device, such as a security key. Synced passkeys are not accepted.');
  }
}

/** Refuses a new credential whose attestation does not chain to the client's trusted roots (when it has any). */
export function assertRegistrationAllowed(policy: PasskeyPolicy, facts: CredentialFacts): void {
  assertCredentialAllowed(policy, facts);
  if (policy.trustedRoots.length > 0 && !chainsToTrustedRoot(facts.attestationChain, policy.trustedRoots)) {
    throw new DomainError('passkey_not_allowed', 'This application only accepts security keys issued by your organisation.');
  }
}

/**
 * What a verified assertion is worth to this client: phrh only for a user-verified, device-bound
 * passkey (whose attestation chains to the client's roots, when it has any); phr for a
 * user-verified one; the possession-only level without user verification, where allowed.
 */
export function authContextUnderPolicy(
  policy: PasskeyPolicy,
  assertion: { readonly userVerified: boolean } & CredentialFacts,
  acr: AcrNames,
): AuthContext {
  assertCredentialAllowed(policy, assertion);
  if (!assertion.userVerified) {
    if (policy.userVerification !== 'preferred') {
      throw new DomainError('passkey_user_verification_required', 'Your device must confirm it is you (PIN, fingerprint or face).');
    }
    return authContextFromPossession(assertion, acr);
  }
  const context = authContextFromPasskey({ userVerified: true, backupEligible: assertion.backupEligible }, acr);
  if (context.acr === acr.phrh && policy.trustedRoots.length > 0 && !chainsToTrustedRoot(assertion.attestationChain, policy.trustedRoots)) {
    // Device-bound, but not a key this client trusts for its highest level.
    return { acr: acr.phr, amr: ['pop', 'hwk', 'user', 'mfa'] };
  }
  return context;
}

/** True when each certificate is signed by the next and the last by one of the roots, all currently valid. */
export function chainsToTrustedRoot(chain: readonly string[], rootsPem: readonly string[]): boolean {
  if (chain.length === 0) return false;
  try {
    const certs = chain.map((der) => new X509Certificate(Buffer.from(der, 'base64')));
    const roots = rootsPem.map((pem) => new X509Certificate(pem));
    const now = Date.now();
    const valid = (c: X509Certificate) => Date.parse(c.validFrom) <= now && now <= Date.parse(c.validTo);
    for (let i = 0; i < certs.length - 1; i++) {
      if (!valid(certs[i]!) || !certs[i]!.verify(certs[i + 1]!.publicKey)) return false;
    }
    const last = certs.at(-1)!;
    return valid(last) && roots.some((root) => valid(root) && (last.fingerprint256 === root.fingerprint256 || last.verify(root.publicKey)));
  } catch {
    return false;
  }
}
