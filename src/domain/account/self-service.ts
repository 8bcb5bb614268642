import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import type { AcrNames } from '../../config/env.ts';
import type { Account, AccountRepository } from '../accounts.ts';
import type { Clock } from '../clock.ts';
import { DomainError } from '../errors.ts';
import { noEvents, type Events } from '../events.ts';
import type { Mailer } from '../mailer.ts';
import type { PasskeyCeremonies } from '../passkeys/ceremonies.ts';
import type { Passkey, PasskeyRepository } from '../passkeys/types.ts';
import { describeModel, type AuthenticatorCatalog } from './authenticators.ts';
import { hasFreshPasskeyCeremony } from './freshness.ts';
import { normalizePasskeyName } from './passkey-names.ts';
import type {
  AccountActivityStore,
  AccountMessages,
  AccountPasskeyStore,
  ClientDirectory,
  GrantRecord,
  PasskeyChange,
  SessionRecord,
  SignedInSession,
} from './types.ts';

/** A passkey as the account page shows it. */
export interface PasskeyView {
  readonly id: string;
  /** The person's name for it, or the model name until they give one. */
  readonly name: string;
  readonly model: string;
  readonly iconLight?: string;
  readonly iconDark?: string;
  /** Backup eligible: the passkey may be synced to the person's other devices. */
  readonly synced: boolean;
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
}

/** How a session was signed in, from its acr (the server's own record). */
export type SignInMethod = 'passkey_device_bound' | 'passkey_synced' | 'email_code' | 'unknown';

export interface SessionView {
  readonly uid: string;
  /** The session this page is being shown in. */
  readonly current: boolean;
  readonly method: SignInMethod;
  /** Milliseconds since the epoch. */
  readonly signedInAt?: number;
  readonly expiresAt?: number;
  readonly applications: readonly string[];
}

export interface ApplicationView {
  readonly clientId: string;
  readonly name: string;
  readonly scopes: readonly string[];
  /** Milliseconds since the epoch: the oldest grant still in force. */
  readonly since?: number;
}

export interface AccountOverview {
  readonly account: Account;
  readonly passkeys: readonly PasskeyView[];
  readonly sessions: readonly SessionView[];
  readonly applications: readonly ApplicationView[];
  /** The session may add and remove passkeys now, without another ceremony. */
  readonly fresh: boolean;
  /** The last passkey may be removed, because the person could recover the account without it. */
  readonly canRemoveLast: boolean;
}

export interface AccountSelfServiceDeps {
  readonly accounts: AccountRepository;
  readonly passkeys: PasskeyRepository;
  readonly store: AccountPasskeyStore;
  readonly activity: AccountActivityStore;
  readonly ceremonies: PasskeyCeremonies;
  readonly catalog: AuthenticatorCatalog;
  readonly clients: ClientDirectory;
  readonly mailer: Mailer;
  readonly messages: AccountMessages;
  readonly acr: AcrNames;
  /** Seconds a passkey ceremony keeps allowing passkey changes. */
  readonly reauthSeconds: number;
  /** Whether an account without passkeys can be recovered (by email). */
  readonly recovery: 'email' | 'off';
  /** Clients that are part of Latchkey itself (the account page's own): not listed, not revocable. */
  readonly internalClientIds: readonly string[];
  readonly clock: Clock;
  /** Mail is sent after the change is made; a failure to send is reported here, not to the person. */
  readonly reportMailFailure: (error: unknown) => void;
  /** Security events (passkey.registered / passkey.removed) for the audit log and webhooks. */
  readonly events?: Events;
}

/**
 * The self-service account page: a person's passkeys (named, added, removed), browser sessions
 * and application grants. Every operation is scoped to the account of the server-side session;
 * adding or removing a passkey also needs a passkey ceremony within the last few minutes.
 */
export class AccountSelfService {
  constructor(private readonly deps: AccountSelfServiceDeps) {}

  /** The signed-in person's account; a disabled or deleted account can do nothing here. */
  async account(session: SignedInSession): Promise<Account> {
    const account = await this.deps.accounts.findById(session.accountId);
    if (!account) throw new DomainError('account_sign_in_required', 'Sign in to see your account.');
    if (account.status !== 'active') throw new DomainError('account_disabled', 'This account is disabled. Contact the application’s support.');
    return account;
  }

  /** True when the session may change passkeys now. */
  isFresh(session: SignedInSession): boolean {
    return hasFreshPasskeyCeremony(session, Math.floor(this.deps.clock() / 1000), this.deps.acr, this.deps.reauthSeconds);
  }

  async overview(session: SignedInSession): Promise<AccountOverview> {
    const account = await this.account(session);
    const [passkeys, sessions, grants] = await Promise.all([
      this.deps.passkeys.listByAccount(account.id),
      this.deps.activity.listSessions(account.id, this.deps.clock()),
      this.deps.activity.listGrants(account.id, this.deps.clock()),
    ]);
    return {
      account,
      passkeys: passkeys.map((p) => this.view(p)),
      sessions: await this.sessionViews(session, sessions),
      applications: await this.applicationViews(grants),
      fresh: this.isFresh(session),
      canRemoveLast: this.deps.recovery !== 'off',
    };
  }

  /** Options for creating another passkey for this account (its existing ones excluded). */
  async registrationOptions(session: SignedInSession): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const account = await this.account(session);
    this.requireFresh(session);
    return this.deps.ceremonies.registrationOptions({
      interactionUid: challengeBinding(session),
      userHandle: account.userHandle,
      userName: account.email,
      displayName: account.name ?? account.email,
      existing: await this.deps.passkeys.listByAccount(account.id),
    });
  }

  /** Verifies and stores the new passkey, then tells the person by mail. */
  async addPasskey(session: SignedInSession, response: unknown): Promise<PasskeyView> {
    const account = await this.account(session);
    this.requireFresh(session);
    const { passkey, userHandle } = await this.deps.ceremonies.verifyRegistration(challengeBinding(session), response);
    // The challenge was issued for this account's user handle; anything else is not this ceremony.
    if (userHandle !== account.userHandle) {
      throw new DomainError('passkey_challenge_invalid', 'This passkey request is not valid any more.');
    }
    const now = this.deps.clock();
    // Named after its model when the metadata knows it; the person can rename it.
    const name = this.deps.catalog.lookup(passkey.aaguid)?.name ?? null;
    if (!(await this.deps.store.add(account.id, passkey, name, now))) {
      throw new DomainError('passkey_already_registered', 'This passkey is already registered.');
    }
    const added = this.view({ ...passkey, accountId: account.id, name, createdAt: now, lastUsedAt: null });
    await (this.deps.events ?? noEvents).record({ type: 'passkey.registered', accountId: account.id, actor: 'user', data: { passkey_id: passkey.id, via: 'account' } });
    await this.notify(this.deps.messages.passkeyAdded(account.email, this.change(added), session.locale));
    return added;
  }

  async renamePasskey(session: SignedInSession, passkeyId: unknown, rawName: unknown): Promise<void> {
    const account = await this.account(session);
    const name = normalizePasskeyName(rawName);
    if (typeof passkeyId !== 'string' || !(await this.deps.store.rename(account.id, passkeyId, name))) {
      throw notFound();
    }
  }

  /**
   * Removes one of the account's passkeys and tells the person by mail. The only passkey can be
   * removed only when the account can be recovered without one.
   */
  async removePasskey(session: SignedInSession, passkeyId: unknown): Promise<PasskeyView> {
    const account = await this.account(session);
    this.requireFresh(session);
    if (typeof passkeyId !== 'string') throw notFound();
    // This browser stays signed in; others that signed in with the passkey are signed out.
    const result = await this.deps.store.remove(account.id, passkeyId, this.deps.recovery !== 'off', session.uid);
    if (result.outcome === 'not_found') throw notFound();
    if (result.outcome === 'last') {
      throw new DomainError('last_passkey', 'This is your only passkey. Add another passkey before you remove this one, or you could not sign in any more.');
    }
    const removed = this.view(result.passkey);
    await (this.deps.events ?? noEvents).record({ type: 'passkey.removed', accountId: account.id, actor: 'user', data: { passkey_id: result.passkey.id, via: 'account', sessions_ended: result.endedSessions } });
    await this.notify(this.deps.messages.passkeyRemoved(account.email, this.change(removed), session.locale));
    return removed;
  }

  /** Ends one of the account's sessions: that browser is signed out. Returns whether it was this one. */
  async endSession(session: SignedInSession, uid: unknown): Promise<{ current: boolean }> {
    const account = await this.account(session);
    if (typeof uid !== 'string' || uid === '' || !(await this.deps.activity.endSession(account.id, uid))) {
      throw new DomainError('session_not_found', 'This session has already ended.');
    }
    return { current: uid === session.uid };
  }

  /** Revokes everything the account granted the application: its grants, codes and tokens. */
  async revokeApplication(session: SignedInSession, clientId: unknown): Promise<void> {
    const account = await this.account(session);
    if (typeof clientId !== 'string' || this.deps.internalClientIds.includes(clientId)) throw grantNotFound();
    if ((await this.deps.activity.revokeClient(account.id, clientId)) === 0) throw grantNotFound();
  }

  private requireFresh(session: SignedInSession): void {
    if (!this.isFresh(session)) {
      throw new DomainError('reauthentication_required', 'Confirm it’s you with a passkey before you change your passkeys.');
    }
  }

  private view(passkey: Passkey): PasskeyView {
    const model = describeModel(passkey, this.deps.catalog);
    return {
      id: passkey.id,
      name: passkey.name ?? model.name,
      model: model.name,
      ...(model.iconLight ? { iconLight: model.iconLight } : {}),
      ...(model.iconDark ? { iconDark: model.iconDark } : {}),
      synced: passkey.deviceType === 'multiDevice',
      createdAt: passkey.createdAt,
      lastUsedAt: passkey.lastUsedAt,
    };
  }

  private change(passkey: PasskeyView): PasskeyChange {
    return { name: passkey.name, model: passkey.model, at: this.deps.clock() };
  }

  private async notify(message: Parameters<Mailer['send']>[0]): Promise<void> {
    try {
      await this.deps.mailer.send(message);
    } catch (error) {
      // The change is made; failing the request now would only hide that from the person.
      this.deps.reportMailFailure(error);
    }
  }

  private async sessionViews(current: SignedInSession, sessions: readonly SessionRecord[]): Promise<SessionView[]> {
    const views = await Promise.all(
      sessions.map(async (s) => ({
        uid: s.uid,
        current: s.uid === current.uid,
        method: this.methodOf(s.acr),
        ...(s.authTime !== undefined ? { signedInAt: s.authTime * 1000 } : {}),
        ...(s.expiresAt !== undefined ? { expiresAt: s.expiresAt * 1000 } : {}),
        applications: await this.names(s.clientIds.filter((id) => !this.deps.internalClientIds.includes(id))),
      })),
    );
    // This browser first, then the most recent sign-ins.
    return views.sort((a, b) => Number(b.current) - Number(a.current) || (b.signedInAt ?? 0) - (a.signedInAt ?? 0));
  }

  private async applicationViews(grants: readonly GrantRecord[]): Promise<ApplicationView[]> {
    const byClient = new Map<string, { scopes: Set<string>; since?: number }>();
    for (const grant of grants) {
      if (this.deps.internalClientIds.includes(grant.clientId)) continue;
      const entry = byClient.get(grant.clientId) ?? { scopes: new Set<string>() };
      for (const scope of grant.scopes) entry.scopes.add(scope);
      if (grant.createdAt !== undefined) entry.since = Math.min(entry.since ?? Infinity, grant.createdAt * 1000);
      byClient.set(grant.clientId, entry);
    }
    const views = await Promise.all(
      [...byClient].map(async ([clientId, entry]) => ({
        clientId,
        name: (await this.deps.clients.nameOf(clientId)) ?? clientId,
        scopes: [...entry.scopes],
        ...(entry.since !== undefined ? { since: entry.since } : {}),
      })),
    );
    return views.sort((a, b) => a.name.localeCompare(b.name));
  }

  private async names(clientIds: readonly string[]): Promise<string[]> {
    return Promise.all(clientIds.map(async (id) => (await this.deps.clients.nameOf(id)) ?? id));
  }

  private methodOf(acr: string | undefined): SignInMethod {
    if (acr === this.deps.acr.phrh) return 'passkey_device_bound';
    if (acr === this.deps.acr.phr) return 'passkey_synced';
    if (acr === this.deps.acr.otp) return 'email_code';
    return 'unknown';
  }
}

/**
 * Challenges of the account page are bound to the browser session (by its uid), the way the
 * sign-in pages bind theirs to an interaction: a challenge issued to one session is useless in another.
 */
function challengeBinding(session: SignedInSession): string {
  return `account:${session.uid}`;
}

function notFound(): DomainError {
  return new DomainError('passkey_not_found', 'This passkey does not exist or was already removed.');
}

function grantNotFound(): DomainError {
  return new DomainError('grant_not_found', 'This application has no access to revoke.');
}
