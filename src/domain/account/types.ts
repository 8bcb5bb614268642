import type { MailMessage } from '../mailer.ts';
import type { NewPasskey } from '../passkeys/ceremonies.ts';
import type { Passkey } from '../passkeys/types.ts';

/**
 * The signed-in session the account page acts for, as oidc-provider stored it on the server.
 * Nothing here ever comes from a request body.
 */
export interface SignedInSession {
  /** The session's stable uid (not its id, which is the cookie's secret value). */
  readonly uid: string;
  readonly accountId: string;
  readonly acr?: string;
  /** Seconds since the epoch: when the ceremony that produced `acr` happened. */
  readonly authTime?: number;
  /** The language of the page the person is using (a tag), for the mails a change sends. */
  readonly locale?: string;
}

export type RemoveOutcome =
  | { readonly outcome: 'removed'; readonly passkey: Passkey; /** Browser sessions signed in with it, now signed out. */ readonly endedSessions: number }
  | { readonly outcome: 'not_found' }
  | { readonly outcome: 'last' };

/** Changes a person makes to their own passkeys; every call is scoped to one account. */
export interface AccountPasskeyStore {
  /** Stores a verified passkey; false when the credential is already registered (to anyone). */
  add(accountId: string, passkey: NewPasskey, name: string | null, now: number): Promise<boolean>;
  /** False when the account has no passkey with this id. */
  rename(accountId: string, passkeyId: string, name: string): Promise<boolean>;
  /**
   * Deletes one of the account's passkeys. Unless `allowLast`, refuses to delete the account's
   * only passkey, checked and deleted atomically so two removals cannot race past the check.
   */
  /** Also signs out the sessions that signed in with the passkey, except `keepSessionUid`. */
  remove(accountId: string, passkeyId: string, allowLast: boolean, keepSessionUid?: string): Promise<RemoveOutcome>;
}

/** A browser session of the account, as oidc-provider keeps it. */
export interface SessionRecord {
  readonly uid: string;
  readonly acr?: string;
  readonly amr?: readonly string[];
  /** Seconds since the epoch. */
  readonly authTime?: number;
  /** Seconds since the epoch. */
  readonly expiresAt?: number;
  /** Applications signed in to through this session. */
  readonly clientIds: readonly string[];
}

/** Consent an account gave an application, as oidc-provider keeps it. */
export interface GrantRecord {
  readonly id: string;
  readonly clientId: string;
  readonly scopes: readonly string[];
  /** Seconds since the epoch. */
  readonly createdAt?: number;
}

/** The account's sessions and application grants in oidc-provider's storage. */
export interface AccountActivityStore {
  listSessions(accountId: string, now: number): Promise<SessionRecord[]>;
  /** Deletes the session (its browser is signed out); false when the account has no such session. */
  endSession(accountId: string, uid: string): Promise<boolean>;
  listGrants(accountId: string, now: number): Promise<GrantRecord[]>;
  /** Deletes every grant the account gave the client, with their codes and tokens; returns how many grants. */
  revokeClient(accountId: string, clientId: string): Promise<number>;
}

/** Names of the applications (OIDC clients) the person sees on the page. */
export interface ClientDirectory {
  nameOf(clientId: string): Promise<string | undefined>;
}

/** What the mails about passkey changes say about the passkey. */
export interface PasskeyChange {
  readonly name: string;
  readonly model: string;
  /** Milliseconds since the epoch. */
  readonly at: number;
}

export interface AccountMessages {
  passkeyAdded(to: string, change: PasskeyChange, locale?: string): MailMessage;
  passkeyRemoved(to: string, change: PasskeyChange, locale?: string): MailMessage;
}
