import { createHash, randomBytes } from 'node:crypto';
import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import type { Account, AccountRepository } from './accounts.ts';
import { DomainError } from './errors.ts';
import { noEvents, type Events } from './events.ts';
import { actorOf, type Caller } from './management/users.ts';
import type { Mailer, MailMessage } from './mailer.ts';
import type { NewPasskey, PasskeyCeremonies } from './passkeys/ceremonies.ts';
import { parsePasskeyPolicy, type PasskeyPolicy } from './passkeys/policy.ts';
import type { PasskeyRepository } from './passkeys/types.ts';

/** `expired` is never stored: a created or opened link past its expiry is expired. */
export type EnrollmentStatus = 'created' | 'opened' | 'completed' | 'expired' | 'revoked';

/** How the passkey must be made. The browser-side hints cannot be verified by the server; the rest is. */
export interface EnrollmentPolicy {
  /** Browser hint: `platform` (this device) or `cross-platform` (a security key or a phone). */
  readonly authenticatorAttachment: 'platform' | 'cross-platform' | null;
  /** Browser hint: whether the passkey must be discoverable (usable without typing a username). */
  readonly residentKey: 'required' | 'preferred' | 'discouraged';
  /** Enforced: user verification, attestation conveyance, allowed/denied models, device-bound only. */
  readonly passkey: Readonly<Record<string, unknown>>;
}

export interface EnrollmentLink {
  readonly id: string;
  readonly accountId: string;
  readonly status: Exclude<EnrollmentStatus, 'expired'>;
  readonly policy: EnrollmentPolicy;
  readonly invitedBy: string;
  readonly createdBy: string;
  readonly expiresAt: number;
  readonly createdAt: number;
  readonly openedAt: number | null;
  readonly completedAt: number | null;
  readonly revokedAt: number | null;
  readonly passkeyId: string | null;
}

export interface EnrollmentStore {
  create(link: EnrollmentLink, tokenHash: string): Promise<void>;
  find(id: string): Promise<EnrollmentLink | undefined>;
  findByTokenHash(tokenHash: string): Promise<EnrollmentLink | undefined>;
  /** created → opened, if still created and unexpired; true when this call moved it. */
  markOpened(id: string, now: number): Promise<boolean>;
  /** created/opened → revoked, if unexpired; true when this call moved it. */
  revoke(id: string, now: number): Promise<boolean>;
  /**
   * In one transaction: created/opened (unexpired) → completed, and the passkey stored for the
   * account if it is still active. False, writing nothing, when either condition fails.
   */
  complete(id: string, accountId: string, passkey: NewPasskey, now: number): Promise<boolean>;
}

export interface EnrollmentMessages {
  /** `locale`: the language the API request asked for (a tag; unsupported or undefined: the default). */
  enrollmentInvitation(to: string, invitedBy: string, url: string, expiresAt: Date, locale?: string): MailMessage;
}

/** The status a person or the API sees now. */
export function statusOf(link: EnrollmentLink, now: number): EnrollmentStatus {
  if ((link.status === 'created' || link.status === 'opened') && now >= link.expiresAt) return 'expired';
  return link.status;
}

export const ENROLLMENT_DEFAULT_TTL = 7 * 24 * 3600;
export const ENROLLMENT_MAX_TTL = 30 * 24 * 3600;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const FIELDS = new Set(['expires_in', 'invited_by', 'send_email', 'authenticator_attachment', 'resident_key', 'passkey_policy', 'locale']);
/** A BCP 47 language tag such as de or es-MX. */
const LANGUAGE_TAG = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$/;

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function invalid(message: string): DomainError {
  return new DomainError('invalid_request', message);
}

/** What Enrollments works with. */
export interface EnrollmentsDeps {
  store: EnrollmentStore;
  accounts: AccountRepository;
  passkeys: PasskeyRepository;
  ceremonies: PasskeyCeremonies;
  mailer: Mailer;
  messages: EnrollmentMessages;
  /** The URL of the page a link opens, from its secret. */
  linkUrl: (token: string) => string;
  clock: () => number;
  newId: () => string;
  events?: Events;
}

/**
 * Enrollment links: a backend invites a person (an existing account) to create a passkey,
 * under the link's own policy. Single use, expiring, revocable; the account must be active
 * at every step.
 */
export class Enrollments {
  constructor(private readonly deps: EnrollmentsDeps) {}

  private get events(): Events {
    return this.deps.events ?? noEvents;
  }

  /** Creates a link for an active account; the URL (holding the secret) is returned only here. */
  async create(caller: Caller & { clientName: string }, accountId: string, body: unknown): Promise<{ link: EnrollmentLink; url: string }> {
    const input = parseRequest(body ?? {});
    const account = await this.deps.accounts.findById(accountId);
    if (!account) throw new DomainError('user_not_found', 'There is no user with this id.');
    if (account.status !== 'active') throw new DomainError('user_disabled', 'This user is disabled; enable them first.');
    const now = this.deps.clock();
    const token = randomBytes(32).toString('base64url');
    const link: EnrollmentLink = {
      id: this.deps.newId(),
      accountId,
      status: 'created',
      policy: input.policy,
      invitedBy: input.invitedBy ?? caller.clientName,
      createdBy: actorOf(caller),
      expiresAt: now + input.expiresIn * 1000,
      createdAt: now,
      openedAt: null,
      completedAt: null,
      revokedAt: null,
      passkeyId: null,
    };
    await this.deps.store.create(link, hashToken(token));
    const url = this.deps.linkUrl(token);
    await this.events.record({ type: 'enrollment.created', accountId, actor: link.createdBy, data: { enrollment_id: link.id, expires_at: new Date(link.expiresAt).toISOString() } });
    if (input.sendEmail) {
      await this.deps.mailer.send(this.deps.messages.enrollmentInvitation(account.email, link.invitedBy, url, new Date(link.expiresAt), input.locale));
    }
    return { link, url };
  }

  async get(id: string): Promise<EnrollmentLink> {
    const link = await this.deps.store.find(id);
    if (!link) throw new DomainError('enrollment_not_found', 'There is no enrollment link with this id.');
    return link;
  }

  async revoke(caller: Caller, id: string): Promise<EnrollmentLink> {
    const link = await this.get(id);
    if (!(await this.deps.store.revoke(id, this.deps.clock()))) {
      throw new DomainError('enrollment_not_active', `This enrollment link is ${statusOf(await this.get(id), this.deps.clock())} and cannot be revoked.`);
    }
    await this.events.record({ type: 'enrollment.revoked', accountId: link.accountId, actor: actorOf(caller), data: { enrollment_id: id } });
    return this.get(id);
  }

  /** The person opened the link: checks it is usable and marks it opened (the first time). */
  async open(token: string): Promise<{ link: EnrollmentLink; account: Account }> {
    const { link, account } = await this.usable(token);
    if (await this.deps.store.markOpened(link.id, this.deps.clock())) {
      await this.events.record({ type: 'enrollment.opened', accountId: account.id, actor: 'user', data: { enrollment_id: link.id } });
    }
    return { link, account };
  }

  /** Registration options under the link's policy; the challenge is bound to this link. */
  async passkeyOptions(token: string): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const { link, account } = await this.usable(token);
    const options = await this.deps.ceremonies.registrationOptions(
      {
        interactionUid: challengeScope(link),
        userHandle: account.userHandle,
        userName: account.email,
        displayName: account.name ?? account.email,
        existing: await this.deps.passkeys.listByAccount(account.id),
      },
      passkeyPolicyOf(link),
    );
    // Hints for the browser's choice of authenticator; the server cannot verify them.
    const selection = { ...options.authenticatorSelection };
    if (link.policy.authenticatorAttachment) selection.authenticatorAttachment = link.policy.authenticatorAttachment;
    selection.residentKey = link.policy.residentKey;
    selection.requireResidentKey = link.policy.residentKey === 'required';
    return { ...options, authenticatorSelection: selection };
  }

  /** Verifies the new passkey and completes the link, once. */
  async complete(token: string, response: unknown): Promise<{ account: Account }> {
    const { link, account } = await this.usable(token);
    const { passkey, userHandle } = await this.deps.ceremonies.verifyRegistration(challengeScope(link), response, passkeyPolicyOf(link));
    if (userHandle !== account.userHandle) throw new DomainError('passkey_challenge_invalid', 'This passkey request is not valid any more.');
    if (!(await this.deps.store.complete(link.id, account.id, passkey, this.deps.clock()))) {
      // Used, revoked, expired or disabled meanwhile: say which, having written nothing.
      await this.usable(token);
      throw new DomainError('enrollment_link_used', 'This link was already used.');
    }
    await this.events.record({ type: 'passkey.registered', accountId: account.id, actor: 'user', data: { passkey_id: passkey.id, via: 'enrollment', enrollment_id: link.id } });
    await this.events.record({ type: 'enrollment.completed', accountId: account.id, actor: 'user', data: { enrollment_id: link.id, passkey_id: passkey.id } });
    return { account };
  }

  /** The link behind a token, if a person may still use it; a page-ready error otherwise. */
  private async usable(token: string): Promise<{ link: EnrollmentLink; account: Account }> {
    const link = TOKEN.test(token) ? await this.deps.store.findByTokenHash(hashToken(token)) : undefined;
    if (!link) throw new DomainError('enrollment_link_invalid', 'This link is not valid. Check that you opened the whole link, or ask for a new one.');
    const status = statusOf(link, this.deps.clock());
    if (status === 'completed') throw new DomainError('enrollment_link_used', 'This link was already used to create a passkey. Sign in with that passkey, or ask for a new link.');
    if (status === 'expired') throw new DomainError('enrollment_link_expired', 'This link has expired. Ask whoever sent it for a new one.');
    if (status === 'revoked') throw new DomainError('enrollment_link_revoked', 'This link was withdrawn. Ask whoever sent it for a new one.');
    const account = await this.deps.accounts.findById(link.accountId);
    if (!account || account.status !== 'active') throw new DomainError('account_disabled', 'This account is disabled. Contact the application’s support.');
    return { link, account };
  }
}

function challengeScope(link: EnrollmentLink): string {
  return `enroll:${link.id}`;
}

function passkeyPolicyOf(link: EnrollmentLink): PasskeyPolicy {
  return parsePasskeyPolicy(link.policy.passkey);
}

function parseRequest(body: unknown): { expiresIn: number; invitedBy: string | undefined; sendEmail: boolean; locale: string | undefined; policy: EnrollmentPolicy } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('The body must be a JSON object.');
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).find((k) => !FIELDS.has(k));
  if (unknown !== undefined) throw invalid(`Unknown field "${unknown.slice(0, 64)}".`);
  const expiresIn = fields.expires_in ?? ENROLLMENT_DEFAULT_TTL;
  if (typeof expiresIn !== 'number' || !Number.isInteger(expiresIn) || expiresIn < 60 || expiresIn > ENROLLMENT_MAX_TTL) {
    throw invalid(`expires_in must be a whole number of seconds from 60 to ${ENROLLMENT_MAX_TTL}.`);
  }
  const invitedBy = fields.invited_by;
  if (invitedBy !== undefined && (typeof invitedBy !== 'string' || invitedBy.trim().length === 0 || invitedBy.length > 100)) {
    throw invalid('invited_by must be a string of 1 to 100 characters.');
  }
  if (fields.send_email !== undefined && typeof fields.send_email !== 'boolean') throw invalid('send_email must be true or false.');
  if (fields.locale !== undefined && (typeof fields.locale !== 'string' || !LANGUAGE_TAG.test(fields.locale))) {
    throw invalid('locale must be a language tag such as "en", "de" or "es".');
  }
  const attachment = fields.authenticator_attachment ?? null;
  if (attachment !== null && attachment !== 'platform' && attachment !== 'cross-platform') {
    throw invalid('authenticator_attachment must be "platform" or "cross-platform".');
  }
  const residentKey = fields.resident_key ?? 'required';
  if (residentKey !== 'required' && residentKey !== 'preferred' && residentKey !== 'discouraged') {
    throw invalid('resident_key must be "required", "preferred" or "discouraged".');
  }
  const passkey = fields.passkey_policy ?? {};
  try {
    parsePasskeyPolicy(passkey);
  } catch (error) {
    throw invalid((error as Error).message);
  }
  return {
    expiresIn,
    invitedBy: typeof invitedBy === 'string' ? invitedBy.trim() : undefined,
    sendEmail: fields.send_email === true,
    locale: typeof fields.locale === 'string' ? fields.locale : undefined,
    policy: { authenticatorAttachment: attachment, residentKey, passkey: passkey as Record<string, unknown> },
  };
}
