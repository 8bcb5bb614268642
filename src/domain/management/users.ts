import type { Account } from '../accounts.ts';
import { normalizeEmail } from '../email.ts';
import { DomainError } from '../errors.ts';
import { noEvents, type Events } from '../events.ts';
import { newUserHandle } from '../passkeys/ceremonies.ts';
import type { Passkey } from '../passkeys/types.ts';

/** An account as the management API sees it. */
export interface ManagedUser extends Account {
  /** The application's own identifier (possibly a hash it computed); unique when set. */
  readonly externalId: string | null;
  readonly updatedAt: number;
}

export interface NewManagedUser {
  readonly id: string;
  readonly email: string;
  readonly emailVerified: boolean;
  readonly name: string | null;
  readonly externalId: string | null;
  readonly userHandle: string;
}

/** Where in the (created_at, id) order a page starts. */
export interface UserCursor {
  readonly createdAt: number;
  readonly id: string;
}

export interface UserFilter {
  readonly email?: string;
  readonly externalId?: string;
}

export interface ManagedUserStore {
  /** Inserts the account; says which unique value was taken instead when one was. */
  create(user: NewManagedUser, now: number): Promise<ManagedUser | 'email_taken' | 'external_id_taken'>;
  find(id: string): Promise<ManagedUser | undefined>;
  /** Up to `limit` accounts after the cursor, in (created_at, id) order. */
  list(after: UserCursor | undefined, limit: number, filter: UserFilter): Promise<ManagedUser[]>;
  /**
   * Sets the status. Disabling also ends the account's sessions and voids its codes and tokens
   * (its grants stay, so consent survives a later enable). Undefined when there is no such account.
   */
  setStatus(id: string, status: 'active' | 'disabled', now: number): Promise<ManagedUser | undefined>;
  /** Deletes the account with its passkeys, enrollment links, sessions, grants, codes and tokens; false if absent. */
  delete(id: string): Promise<boolean>;
  listPasskeys(accountId: string): Promise<Passkey[]>;
  /** Deletes one of the account's passkeys; false if the account has no such passkey. */
  removePasskey(accountId: string, passkeyId: string): Promise<boolean>;
}

export interface Page<T> {
  readonly items: T[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  readonly nextCursor: string | null;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

/** Who called, for the audit log: a management API client, or an operator's tool. */
export interface Caller {
  readonly clientId: string;
  /** The audit actor; `client:<clientId>` unless set (the command-line tool records `cli`). */
  readonly actor?: string;
  /** How an account was created, in `account.created` data; `management_api` unless set. */
  readonly via?: string;
}

/** The command-line tool as a caller: events it causes are recorded with the actor `cli`. */
export const CLI_CALLER: Caller = { clientId: 'cli', actor: 'cli', via: 'cli' };

/** The audit actor for what a caller did. */
export function actorOf(caller: Caller): string {
  return caller.actor ?? `client:${caller.clientId}`;
}

const EXTERNAL_ID = /^[\x21-\x7e]{1,255}$/;
const FIELDS = new Set(['email', 'email_verified', 'name', 'external_id']);

/** Accounts managed by an application's backend through the management API. */
export class UserManagement {
  constructor(
    private readonly deps: {
      store: ManagedUserStore;
      clock: () => number;
      events?: Events;
      newId: () => string;
    },
  ) {}

  private get events(): Events {
    return this.deps.events ?? noEvents;
  }

  /** Creates an account from an API request body (snake_case fields, validated here). */
  async create(caller: Caller, body: unknown): Promise<ManagedUser> {
    const input = parseNewUser(body);
    const created = await this.deps.store.create(
      { id: this.deps.newId(), userHandle: newUserHandle(), ...input },
      this.deps.clock(),
    );
    if (created === 'email_taken') throw new DomainError('user_exists', 'An account with this email address already exists.');
    if (created === 'external_id_taken') throw new DomainError('external_id_taken', 'Another account already has this external_id.');
    await this.events.record({ type: 'account.created', accountId: created.id, actor: actorOf(caller), data: { via: caller.via ?? 'management_api' } });
    return created;
  }

  async get(id: string): Promise<ManagedUser> {
    const user = await this.deps.store.find(id);
    if (!user) throw new DomainError('user_not_found', 'There is no user with this id.');
    return user;
  }

  async list(query: { cursor?: unknown; limit?: unknown; email?: unknown; external_id?: unknown }): Promise<Page<ManagedUser>> {
    const limit = parseLimit(query.limit);
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const filter: { email?: string; externalId?: string } = {};
    if (query.email !== undefined) filter.email = normalizeEmail(query.email);
    if (query.external_id !== undefined) filter.externalId = parseExternalId(query.external_id);
    // One row more than asked says whether another page follows.
    const rows = await this.deps.store.list(after, limit + 1, filter);
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    return { items, nextCursor: rows.length > limit && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null };
  }

  async setStatus(caller: Caller, id: string, status: 'active' | 'disabled'): Promise<ManagedUser> {
    const before = await this.get(id);
    const user = await this.deps.store.setStatus(id, status, this.deps.clock());
    if (!user) throw new DomainError('user_not_found', 'There is no user with this id.');
    if (before.status !== status) {
      await this.events.record({ type: status === 'disabled' ? 'account.disabled' : 'account.enabled', accountId: id, actor: actorOf(caller) });
    }
    return user;
  }

  async delete(caller: Caller, id: string): Promise<void> {
    if (!(await this.deps.store.delete(id))) throw new DomainError('user_not_found', 'There is no user with this id.');
    await this.events.record({ type: 'account.deleted', accountId: id, actor: actorOf(caller) });
  }

  async passkeys(id: string): Promise<Passkey[]> {
    await this.get(id);
    return this.deps.store.listPasskeys(id);
  }

  async removePasskey(caller: Caller, id: string, passkeyId: string): Promise<void> {
    await this.get(id);
    if (!(await this.deps.store.removePasskey(id, passkeyId))) {
      throw new DomainError('passkey_not_found', 'This user has no passkey with this id.');
    }
    await this.events.record({ type: 'passkey.removed', accountId: id, actor: actorOf(caller), data: { passkey_id: passkeyId } });
  }
}

function invalid(message: string): DomainError {
  return new DomainError('invalid_request', message);
}

function parseNewUser(body: unknown): Omit<NewManagedUser, 'id' | 'userHandle'> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('The body must be a JSON object.');
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).find((k) => !FIELDS.has(k));
  if (unknown !== undefined) throw invalid(`Unknown field "${unknown.slice(0, 64)}".`);
  const email = normalizeEmail(fields.email);
  if (fields.email_verified !== undefined && typeof fields.email_verified !== 'boolean') throw invalid('email_verified must be true or false.');
  if (fields.name !== undefined && fields.name !== null && (typeof fields.name !== 'string' || fields.name.trim().length === 0 || fields.name.length > 200)) {
    throw invalid('name must be a string of 1 to 200 characters.');
  }
  return {
    email,
    emailVerified: fields.email_verified === true,
    name: typeof fields.name === 'string' ? fields.name.trim() : null,
    externalId: fields.external_id === undefined || fields.external_id === null ? null : parseExternalId(fields.external_id),
  };
}

/** An external id is opaque to Latchkey: 1–255 printable ASCII characters, no spaces (an id or a hash). */
function parseExternalId(value: unknown): string {
  if (typeof value !== 'string' || !EXTERNAL_ID.test(value)) {
    throw invalid('external_id must be 1 to 255 printable ASCII characters without spaces.');
  }
  return value;
}

function parseLimit(value: unknown): number {
  if (value === undefined) return DEFAULT_PAGE_SIZE;
  const n = typeof value === 'string' && /^\d{1,4}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE_SIZE) throw invalid(`limit must be a whole number from 1 to ${MAX_PAGE_SIZE}.`);
  return n;
}

/** Cursors are opaque to callers: base64url of "createdAt:id". */
export function encodeCursor(cursor: UserCursor): string {
  return Buffer.from(`${cursor.createdAt}:${cursor.id}`).toString('base64url');
}

export function decodeCursor(value: unknown): UserCursor {
  const text = typeof value === 'string' && value.length <= 200 ? Buffer.from(value, 'base64url').toString() : '';
  const match = /^(\d{1,16}):([\x21-\x7e]{1,64})$/.exec(text);
  if (!match) throw new DomainError('invalid_cursor', 'This cursor is not valid. Start again without one.');
  return { createdAt: Number(match[1]), id: match[2]! };
}
