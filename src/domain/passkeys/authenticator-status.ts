import { DomainError } from '../errors.ts';

/**
 * What the FIDO Metadata Service (MDS) reports against an authenticator model, enforced.
 * Latchkey reads the BLOB itself (src/config/mds-blob.ts) and hands @simplewebauthn/server only
 * its metadata statements, which carry no status reports: the reports are checked here.
 *
 * - No new passkey on a model with any of these reports, ever (a later "update available"
 *   does not fix the devices already out there).
 * - Existing passkeys of a model whose keys can leak or whose user verification can be
 *   bypassed stop signing in: the person uses another passkey or recovery. A revoked
 *   certification or a compromised *attestation* key says nothing about keys already made,
 *   so those keep working.
 */
const REFUSED_AT_REGISTRATION = new Set(['USER_VERIFICATION_BYPASS', 'ATTESTATION_KEY_COMPROMISE', 'USER_KEY_REMOTE_COMPROMISE', 'USER_KEY_PHYSICAL_COMPROMISE', 'REVOKED']);
const REFUSED_AT_SIGN_IN = new Set(['USER_VERIFICATION_BYPASS', 'USER_KEY_REMOTE_COMPROMISE', 'USER_KEY_PHYSICAL_COMPROMISE']);

/** The status reports of the models that have any, by AAGUID (lower case). */
export class AuthenticatorStatuses {
  static readonly none = new AuthenticatorStatuses(new Map());

  constructor(private readonly reportsByAaguid: ReadonlyMap<string, readonly string[]>) {}

  static from(models: Iterable<{ readonly aaguid: string; readonly statusReports?: readonly string[] }>): AuthenticatorStatuses {
    return new AuthenticatorStatuses(new Map([...models].filter((m) => m.statusReports?.length).map((m) => [m.aaguid.toLowerCase(), m.statusReports!])));
  }

  assertMayRegister(aaguid: string): void {
    if (this.reported(aaguid, REFUSED_AT_REGISTRATION)) {
      throw new DomainError('passkey_model_compromised', 'This kind of security key has been reported as unsafe. Use another passkey or security key.');
    }
  }

  assertMaySignIn(aaguid: string): void {
    if (this.reported(aaguid, REFUSED_AT_SIGN_IN)) {
      throw new DomainError('passkey_model_compromised', 'This passkey’s model has been reported as unsafe, so it can no longer sign you in. Use another passkey, or “Lost your passkey?” to make a new one.');
    }
  }

  private reported(aaguid: string, statuses: ReadonlySet<string>): boolean {
    return (this.reportsByAaguid.get(aaguid.toLowerCase()) ?? []).some((status) => statuses.has(status));
  }
}
