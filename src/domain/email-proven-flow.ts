import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import type { Account } from './accounts.ts';
import type { AuthContext } from './auth-context.ts';
import type { PasskeyPolicy } from './passkeys/policy.ts';

/**
 * A flow that proves an email address with a one-time code and then creates a passkey:
 * sign-up (a new account) and recovery (a new passkey for an existing account).
 */
export interface EmailProvenPasskeyFlow {
  /**
   * Mails a code (or a notice) in `locale` (a language tag the mail messages understand);
   * answers the same whoever the address belongs to. Returns the normalised email.
   */
  start(interactionUid: string, rawEmail: unknown, locale?: string): Promise<string>;
  verifyCode(interactionUid: string, code: unknown): Promise<string>;
  /** The address this interaction has proven, if any. */
  provenEmail(interactionUid: string): Promise<string | undefined>;
  /** Options for the new passkey, under the policy of the client the person is signing in to. */
  passkeyOptions(interactionUid: string, policy: PasskeyPolicy): Promise<PublicKeyCredentialCreationOptionsJSON>;
  /** Verifies the new passkey, stores it, and returns the account and the context the session earned. */
  /** The session then stands on the email code; `passkeyId` is the passkey just created. */
  complete(interactionUid: string, response: unknown, policy: PasskeyPolicy, locale?: string): Promise<{ account: Account; context: AuthContext; passkeyId: string }>;
}
