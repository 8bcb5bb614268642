import { DomainError } from './errors.ts';

/**
 * Security events: what happened to whom, recorded in the audit log and delivered to
 * webhooks. Domain code reports them through the `Events` port and never knows where they go.
 */
export const SECURITY_EVENT_TYPES = [
  'account.created',
  'account.disabled',
  'account.enabled',
  'account.deleted',
  'passkey.registered',
  'passkey.removed',
  'signin.succeeded',
  'signin.failed',
  'stepup.succeeded',
  'recovery.started',
  'recovery.completed',
  'enrollment.created',
  'enrollment.opened',
  'enrollment.completed',
  'enrollment.revoked',
  'backchannel.requested',
  'backchannel.approved',
  'backchannel.denied',
] as const;

export type SecurityEventType = (typeof SECURITY_EVENT_TYPES)[number];

export interface SecurityEvent {
  readonly type: SecurityEventType;
  /** The account the event is about, when there is one (kept after the account is deleted). */
  readonly accountId?: string | null;
  /** Who caused it: `client:<id>` for the management API, `cli` for the command-line tool, `user` for the person, `system`. */
  readonly actor?: string;
  /** Event details; never secrets, never raw credentials. */
  readonly data?: Readonly<Record<string, unknown>>;
}

/** Where domain code reports security events. Recording must not fail the flow that reports it. */
export interface Events {
  record(event: SecurityEvent): Promise<void>;
}

/** Records nothing: for flows built without an audit log (unit tests, tools). */
export const noEvents: Events = { record: async () => {} };

/** A recorded event, as the audit log returns it. */
export interface RecordedEvent {
  readonly seq: number;
  readonly id: string;
  readonly type: string;
  readonly accountId: string | null;
  readonly actor: string | null;
  readonly data: Record<string, unknown>;
  readonly createdAt: number;
}

export interface EventFilter {
  readonly type?: string;
  readonly accountId?: string;
}

/** Where events are kept. `append` also queues a delivery to every webhook subscribed to the type, atomically. */
export interface EventStore {
  append(event: SecurityEvent & { id: string }, now: number): Promise<void>;
  /** Up to `limit` events after `afterSeq`, oldest first. */
  list(afterSeq: number, limit: number, filter: EventFilter): Promise<RecordedEvent[]>;
}

/**
 * The Events port backed by the audit log. A failure to record is reported (logged) and
 * swallowed: the person's sign-in must not fail because the log could not be written.
 */
export class AuditLog implements Events {
  constructor(
    private readonly deps: {
      store: EventStore;
      clock: () => number;
      newId: () => string;
      reportFailure: (error: unknown, event: SecurityEvent) => void;
    },
  ) {}

  async record(event: SecurityEvent): Promise<void> {
    try {
      await this.deps.store.append({ ...event, id: this.deps.newId() }, this.deps.clock());
    } catch (error) {
      this.deps.reportFailure(error, event);
    }
  }

  async list(query: { cursor?: unknown; limit?: unknown; type?: unknown; user_id?: unknown }): Promise<{ items: RecordedEvent[]; nextCursor: string | null }> {
    const limit = parsePageLimit(query.limit);
    const after = query.cursor === undefined ? 0 : decodeSeqCursor(query.cursor);
    const filter: { type?: string; accountId?: string } = {};
    if (query.type !== undefined) {
      if (typeof query.type !== 'string' || !(SECURITY_EVENT_TYPES as readonly string[]).includes(query.type)) {
        throw new DomainError('invalid_request', `type must be one of ${SECURITY_EVENT_TYPES.join(', ')}.`);
      }
      filter.type = query.type;
    }
    if (query.user_id !== undefined) {
      if (typeof query.user_id !== 'string' || query.user_id.length > 64) throw new DomainError('invalid_request', 'user_id must be a user id.');
      filter.accountId = query.user_id;
    }
    const rows = await this.deps.store.list(after, limit + 1, filter);
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    return { items, nextCursor: rows.length > limit && last ? Buffer.from(`e:${last.seq}`).toString('base64url') : null };
  }
}

function parsePageLimit(value: unknown): number {
  if (value === undefined) return 50;
  const n = typeof value === 'string' && /^\d{1,4}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 200) throw new DomainError('invalid_request', 'limit must be a whole number from 1 to 200.');
  return n;
}

function decodeSeqCursor(value: unknown): number {
  const text = typeof value === 'string' && value.length <= 100 ? Buffer.from(value, 'base64url').toString() : '';
  const match = /^e:(\d{1,15})$/.exec(text);
  if (!match) throw new DomainError('invalid_cursor', 'This cursor is not valid. Start again without one.');
  return Number(match[1]);
}
