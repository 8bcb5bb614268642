import { randomUUID } from 'node:crypto';
import type { AcrNames } from '../config/env.ts';
import type { Account, AccountRepository } from './accounts.ts';
import { authContextFromEmailCode, type AuthContext } from './auth-context.ts';
import type { EmailCodes } from './email-codes.ts';
import type { EmailProvenPasskeyFlow } from './email-proven-flow.ts';
import type { PasskeyPolicy } from './passkeys/policy.ts';
import { normalizeEmail } from './email.ts';
import { DomainError } from './errors.ts';
import { noEvents, type Events } from './events.ts';
import type { Mailer } from './mailer.ts';
import { newUserHandle, type NewPasskey, type PasskeyCeremonies } from './passkeys/ceremonies.ts';
import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';

export interface NewAccount {
  readonly id: string;
  readonly email: string;
  readonly userHandle: string;
}

/** The one transaction that turns a proven email and a verified passkey into an account. */
export interface SignupStore {
  /**
   * Uses up the email proof, creates the account and stores its first passkey, all or nothing.
   * Returns undefined, changing nothing, when the proof was already used or the email is taken.
   */
  complete(emailCodeId: string, account: NewAccount, passkey: NewPasskey, now: number): Promise<Account | undefined>;
}

/** The sign-up mails; `locale` is the language of the page that asked for them (undefined: the default). */
export interface SignupMessages {
  signupCode(to: string, code: string, minutes: number, locale?: string): Parameters<Mailer['send']>[0];
  accountExists(to: string, locale?: string): Parameters<Mailer['send']>[0];
}

/**
 * Sign-up: prove an email with a one-time code, then create a passkey. The account exists only
 * once both are done, so an unverified email never holds a usable credential.
 */
export class Signup implements EmailProvenPasskeyFlow {
  constructor(
    private readonly deps: {
      accounts: AccountRepository;
      codes: EmailCodes;
      ceremonies: PasskeyCeremonies;
      store: SignupStore;
      mailer: Mailer;
      messages: SignupMessages;
      acr: AcrNames;
      codeTtlSeconds: number;
      clock: () => number;
      /** Security events (audit log, webhooks). */
      events?: Events;
    },
  ) {}

  /**
   * Sends a code to a new address. For an address that already has an account it sends a
   * "you already have an account" mail instead; the response is the same either way, so
   * sign-up reveals nothing about who is registered.
   */
  async start(interactionUid: string, rawEmail: unknown, locale?: string): Promise<string> {
    const email = normalizeEmail(rawEmail);
    const existing = await this.deps.accounts.findByEmail(email);
    if (existing) {
      // A code nobody receives, so every later step (wrong guesses, the attempt limit) answers
      // exactly as it does for a new address. Guessing it still cannot complete a sign-up: the
      // email is taken (SignupStore.complete).
      await this.deps.codes.issue('signup', email, interactionUid);
      await this.deps.mailer.send(this.deps.messages.accountExists(email, locale));
      return email;
    }
    const { code } = await this.deps.codes.issue('signup', email, interactionUid);
    await this.deps.mailer.send(this.deps.messages.signupCode(email, code, Math.round(this.deps.codeTtlSeconds / 60), locale));
    return email;
  }

  async verifyCode(interactionUid: string, code: unknown): Promise<string> {
    return this.deps.codes.verify('signup', interactionUid, code);
  }

  /** The address this interaction has proven, if any. */
  async provenEmail(interactionUid: string): Promise<string | undefined> {
    return (await this.deps.codes.verifiedProof('signup', interactionUid))?.email;
  }

  async passkeyOptions(interactionUid: string, policy: PasskeyPolicy): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const proof = await this.deps.codes.verifiedProof('signup', interactionUid);
    if (!proof) throw new DomainError('email_not_verified', 'Confirm your email address first.');
    return this.deps.ceremonies.registrationOptions({
      interactionUid,
      userHandle: newUserHandle(),
      userName: proof.email,
      displayName: proof.email,
      existing: [],
    }, policy);
  }

  /** Verifies the new passkey and creates the account; the session starts at the email-code level. */
  async complete(interactionUid: string, response: unknown, policy: PasskeyPolicy): Promise<{ account: Account; context: AuthContext; passkeyId: string }> {
    const proof = await this.deps.codes.verifiedProof('signup', interactionUid);
    if (!proof) throw new DomainError('email_not_verified', 'Confirm your email address first.');
    const { passkey, userHandle } = await this.deps.ceremonies.verifyRegistration(interactionUid, response, policy);
    const account = await this.deps.store.complete(
      proof.id,
      { id: randomUUID(), email: proof.email, userHandle },
      passkey,
      this.deps.clock(),
    );
    if (!account) throw new DomainError('email_not_verified', 'This sign-up was already completed. Sign in instead.');
    const events = this.deps.events ?? noEvents;
    await events.record({ type: 'account.created', accountId: account.id, actor: 'user', data: { via: 'signup' } });
    await events.record({ type: 'passkey.registered', accountId: account.id, actor: 'user', data: { passkey_id: passkey.id, via: 'signup' } });
    // Creating a passkey proves no possession (attestation "none"): only the email code counts.
    return { account, context: authContextFromEmailCode(this.deps.acr), passkeyId: passkey.id };
  }
}
