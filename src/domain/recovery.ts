import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import type { AcrNames } from '../config/env.ts';
import type { Account, AccountRepository } from './accounts.ts';
import { authContextFromEmailCode, type AuthContext } from './auth-context.ts';
import type { EmailCodes } from './email-codes.ts';
import type { EmailProvenPasskeyFlow } from './email-proven-flow.ts';
import type { PasskeyPolicy } from './passkeys/policy.ts';
import { normalizeEmail } from './email.ts';
import { DomainError } from './errors.ts';
import { noEvents, type Events } from './events.ts';
import type { Mailer, MailMessage } from './mailer.ts';
import type { NewPasskey, PasskeyCeremonies } from './passkeys/ceremonies.ts';
import type { PasskeyRepository } from './passkeys/types.ts';

/** The one transaction that adds a recovered passkey. */
export interface RecoveryStore {
  /** Uses up the email proof and stores the passkey for the account; false (writing nothing) if the proof was already used. */
  complete(emailCodeId: string, accountId: string, passkey: NewPasskey, now: number): Promise<boolean>;
}

/** The recovery mails; `locale` is the language of the page that asked for them (undefined: the default). */
export interface RecoveryMessages {
  recoveryCode(to: string, code: string, minutes: number, locale?: string): MailMessage;
  recoveryNoAccount(to: string, locale?: string): MailMessage;
  recoveryCompleted(to: string, locale?: string): MailMessage;
}

/**
 * "Lost your passkey?": a code to the account's verified email, then a new passkey. The
 * session it leaves is at the email-code level: it can reach the account page and register
 * passkeys, but never satisfies a phr/phrh request until the new passkey is used.
 */
export class Recovery implements EmailProvenPasskeyFlow {
  constructor(
    private readonly deps: {
      accounts: AccountRepository;
      passkeys: PasskeyRepository;
      codes: EmailCodes;
      ceremonies: PasskeyCeremonies;
      store: RecoveryStore;
      mailer: Mailer;
      messages: RecoveryMessages;
      acr: AcrNames;
      codeTtlSeconds: number;
      clock: () => number;
      /** Security events (audit log, webhooks). */
      events?: Events;
    },
  ) {}

  /** Mails a code to an active account's address; any other address gets a notice, and the page looks the same. */
  async start(interactionUid: string, rawEmail: unknown, locale?: string): Promise<string> {
    const email = normalizeEmail(rawEmail);
    const account = await this.deps.accounts.findByEmail(email);
    if (!account || account.status !== 'active' || !account.emailVerified) {
      // A code nobody receives, so the code step answers as it does for a real account; guessing
      // it leads nowhere (there is no account to recover).
      await this.deps.codes.issue('recovery', email, interactionUid);
      await this.deps.mailer.send(this.deps.messages.recoveryNoAccount(email, locale));
      return email;
    }
    const { code } = await this.deps.codes.issue('recovery', email, interactionUid);
    await (this.deps.events ?? noEvents).record({ type: 'recovery.started', accountId: account.id, actor: 'user' });
    await this.deps.mailer.send(this.deps.messages.recoveryCode(email, code, Math.round(this.deps.codeTtlSeconds / 60), locale));
    return email;
  }

  async verifyCode(interactionUid: string, code: unknown): Promise<string> {
    return this.deps.codes.verify('recovery', interactionUid, code);
  }

  async provenEmail(interactionUid: string): Promise<string | undefined> {
    return (await this.deps.codes.verifiedProof('recovery', interactionUid))?.email;
  }

  async passkeyOptions(interactionUid: string, policy: PasskeyPolicy): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const { account } = await this.provenAccount(interactionUid);
    return this.deps.ceremonies.registrationOptions({
      interactionUid,
      userHandle: account.userHandle,
      userName: account.email,
      displayName: account.name ?? account.email,
      existing: await this.deps.passkeys.listByAccount(account.id),
    }, policy);
  }

  async complete(interactionUid: string, response: unknown, policy: PasskeyPolicy, locale?: string): Promise<{ account: Account; context: AuthContext; passkeyId: string }> {
    const { account, proofId } = await this.provenAccount(interactionUid);
    const { passkey, userHandle } = await this.deps.ceremonies.verifyRegistration(interactionUid, response, policy);
    // The challenge was issued for this account's user handle; anything else is not this recovery.
    if (userHandle !== account.userHandle) throw new DomainError('passkey_challenge_invalid', 'This passkey request is not valid any more.');
    if (!(await this.deps.store.complete(proofId, account.id, passkey, this.deps.clock()))) {
      throw new DomainError('email_not_verified', 'This recovery was already completed. Sign in with your new passkey.');
    }
    const events = this.deps.events ?? noEvents;
    await events.record({ type: 'passkey.registered', accountId: account.id, actor: 'user', data: { passkey_id: passkey.id, via: 'recovery' } });
    await events.record({ type: 'recovery.completed', accountId: account.id, actor: 'user' });
    await this.deps.mailer.send(this.deps.messages.recoveryCompleted(account.email, locale));
    return { account, context: authContextFromEmailCode(this.deps.acr), passkeyId: passkey.id };
  }

  private async provenAccount(interactionUid: string): Promise<{ account: Account; proofId: string }> {
    const proof = await this.deps.codes.verifiedProof('recovery', interactionUid);
    if (!proof) throw new DomainError('email_not_verified', 'Confirm your email address first.');
    const account = await this.deps.accounts.findByEmail(proof.email);
    if (!account || account.status !== 'active') throw new DomainError('account_disabled', 'This account cannot be recovered. Contact support.');
    return { account, proofId: proof.id };
  }
}
