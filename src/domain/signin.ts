import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import type { AcrNames } from '../config/env.ts';
import type { Account, AccountRepository } from './accounts.ts';
import type { AuthContext } from './auth-context.ts';
import { normalizeEmail } from './email.ts';
import { DomainError } from './errors.ts';
import { noEvents, type Events } from './events.ts';
import { decoyCredentialIds, type PasskeyCeremonies } from './passkeys/ceremonies.ts';
import { DEFAULT_POLICY, type PasskeyPolicy } from './passkeys/policy.ts';
import type { PasskeyRepository } from './passkeys/types.ts';

/** Passkey sign-in: discoverable ("Sign in with a passkey", autofill) or username-first. */
export class SignIn {
  constructor(
    private readonly deps: {
      accounts: AccountRepository;
      passkeys: PasskeyRepository;
      ceremonies: PasskeyCeremonies;
      acr: AcrNames;
      decoySecret: Buffer;
      /** Sign-ins and step-ups, succeeded or failed, go to the audit log. */
      events?: Events;
    },
  ) {}

  /** Options for a discoverable ceremony, or, given an email, for that account's passkeys. */
  async options(interactionUid: string, rawEmail?: unknown, policy: PasskeyPolicy = DEFAULT_POLICY): Promise<PublicKeyCredentialRequestOptionsJSON> {
    if (rawEmail === undefined || rawEmail === null || rawEmail === '') {
      return this.deps.ceremonies.authenticationOptions(interactionUid, undefined, policy);
    }
    const email = normalizeEmail(rawEmail);
    const account = await this.deps.accounts.findByEmail(email);
    const passkeys = account?.status === 'active' ? await this.deps.passkeys.listByAccount(account.id) : [];
    if (!account || passkeys.length === 0) {
      return this.deps.ceremonies.authenticationOptions(
        interactionUid,
        { decoyCredentialIds: decoyCredentialIds(this.deps.decoySecret, email) },
        policy,
      );
    }
    // Without transport hints, as for the decoy: the stored hints would tell a real account apart.
    const withoutHints = passkeys.map((p) => ({ ...p, transports: [] }));
    return this.deps.ceremonies.authenticationOptions(interactionUid, { accountId: account.id, passkeys: withoutHints }, policy);
  }

  /** Options for a step-up: only this account's passkeys may answer. */
  async stepUpOptions(interactionUid: string, accountId: string, policy: PasskeyPolicy = DEFAULT_POLICY): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const passkeys = await this.deps.passkeys.listByAccount(accountId);
    return this.deps.ceremonies.authenticationOptions(interactionUid, { accountId, passkeys }, policy);
  }

  /**
   * Verifies the assertion and returns the credential owner's account and the context it
   * earned; the outcome is recorded as a sign-in or step-up event. A step-up (`stepUpFor` the
   * signed-in account) accepts only that account's passkeys.
   */
  async verify(
    interactionUid: string,
    response: unknown,
    policy: PasskeyPolicy = DEFAULT_POLICY,
    stepUpFor?: string,
  ): Promise<{ account: Account; context: AuthContext; passkeyId: string }> {
    const purpose = stepUpFor === undefined ? 'signin' : 'stepup';
    const events = this.deps.events ?? noEvents;
    // The account a failed attempt was about, once the credential is known.
    const seen: { accountId?: string } = {};
    try {
      const verified = await this.verifyAssertion(interactionUid, response, policy, seen);
      if (stepUpFor !== undefined && verified.account.id !== stepUpFor) {
        throw new DomainError('passkey_wrong_account', 'This passkey belongs to another account.');
      }
      await events.record({
        type: purpose === 'stepup' ? 'stepup.succeeded' : 'signin.succeeded',
        accountId: verified.account.id,
        actor: 'user',
        data: { acr: verified.context.acr, amr: verified.context.amr, passkey_id: verified.passkeyId },
      });
      return verified;
    } catch (error) {
      if (error instanceof DomainError) {
        await events.record({ type: 'signin.failed', accountId: seen.accountId ?? null, actor: 'user', data: { code: error.code, step_up: purpose === 'stepup' } });
      }
      throw error;
    }
  }

  private async verifyAssertion(
    interactionUid: string,
    response: unknown,
    policy: PasskeyPolicy,
    seen: { accountId?: string },
  ): Promise<{ account: Account; context: AuthContext; passkeyId: string }> {
    const result = await this.deps.ceremonies.verifyAuthentication(interactionUid, response, policy, this.deps.acr);
    seen.accountId = result.passkey.accountId;
    const account = await this.deps.accounts.findById(result.passkey.accountId);
    if (!account || account.status !== 'active') {
      throw new DomainError('account_disabled', 'This account is disabled. Contact the application’s support.');
    }
    // The account comes from the stored credential; a user handle that names anyone else is refused.
    const userHandle = (response as { response?: { userHandle?: unknown } }).response?.userHandle;
    if (userHandle !== undefined && userHandle !== null && userHandle !== account.userHandle) {
      throw new DomainError('passkey_wrong_account', 'This passkey does not belong to this account.');
    }
    return { account, context: result.context, passkeyId: result.passkey.id };
  }
}
