import type { AcrNames } from '../config/env.ts';

/** How a person proved who they are, as it goes into a session and the ID token. */
export interface AuthContext {
  readonly acr: string;
  readonly amr: readonly string[];
}

/** What the server itself verified in a passkey assertion (never what the browser says). */
export interface VerifiedAssertion {
  readonly userVerified: boolean;
  /** Backup eligible: the credential may be synced to other devices (a "multiDevice" credential). */
  readonly backupEligible: boolean;
}

/**
 * The acr/amr contract of DESIGN.md. A user-verified passkey is phishing-resistant
 * multi-factor: `phrh` when the key cannot leave its device, `phr` when it may be synced.
 * Without user verification the assertion proves possession only, which earns no `phr`/`phrh`;
 * Latchkey requires UV, so such an assertion is refused before it reaches this function.
 */
export function authContextFromPasskey(assertion: VerifiedAssertion, acr: AcrNames): AuthContext {
  if (!assertion.userVerified) {
    throw new Error('an assertion without user verification earns no passkey authentication context');
  }
  return assertion.backupEligible
    ? { acr: acr.phr, amr: ['pop', 'swk', 'user', 'mfa'] }
    : { acr: acr.phrh, amr: ['pop', 'hwk', 'user', 'mfa'] };
}

/**
 * A passkey assertion without user verification, accepted only where a client's policy says
 * user verification is "preferred": possession of the key, one factor, never phr/phrh.
 */
export function authContextFromPossession(assertion: Pick<VerifiedAssertion, 'backupEligible'>, acr: AcrNames): AuthContext {
  return { acr: acr.pop, amr: ['pop', assertion.backupEligible ? 'swk' : 'hwk'] };
}

/** An emailed one-time code alone: the lowest level, also for a session whose passkey was only just created. */
export function authContextFromEmailCode(acr: AcrNames): AuthContext {
  return { acr: acr.otp, amr: ['otp'] };
}
