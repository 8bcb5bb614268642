import { randomUUID } from 'node:crypto';
import type { EventFilter, EventStore, RecordedEvent, SecurityEvent } from '../../domain/events.ts';
import type { Db } from '../db.ts';
import { toNumber } from '../rows.ts';
import { statements } from '../statements.ts';

/**
 * How long a node trusts its copy of the webhook subscriptions when deciding whether an event
 * needs an outbox entry. Most events have no subscriber, and then recording one is a single
 * INSERT instead of a transaction that also reads the webhooks. A change made on this node is
 * seen at once; a webhook registered on another node receives events from here within this time.
 */
export const SUBSCRIPTIONS_CACHE_MS = 3000;

const subscriptionCaches = new WeakMap<Db, { eventTypes: string[][]; until: number }>();

/** Forgets this node's copy of the webhook subscriptions (after registering or removing one). */
export function forgetSubscriptions(db: Db): void {
  subscriptionCaches.delete(db);
}

const INSERT_EVENT = 'INSERT INTO events (id, type, account_id, actor, data, created_at) VALUES (?, ?, ?, ?, ?, ?)';

const subscribes = (types: string[], type: string) => types.includes('*') || types.includes(type);

function eventFromRow(row: Record<string, unknown>): RecordedEvent {
  return {
    seq: toNumber(row.seq),
    id: String(row.id),
    type: String(row.type),
    accountId: (row.account_id as string | null) ?? null,
    actor: (row.actor as string | null) ?? null,
    data: JSON.parse(String(row.data)) as Record<string, unknown>,
    createdAt: toNumber(row.created_at),
  };
}

/** The audit log and the webhook outbox: an event and its deliveries are written in one transaction. */
export class KnexEventStore implements EventStore {
  constructor(private readonly db: Db) {}

  async append(event: SecurityEvent & { id: string }, now: number): Promise<void> {
    const subscriptions = await this.subscriptions();
    if (!subscriptions.some((types) => subscribes(types, event.type))) {
      const row = [event.id, event.type, event.accountId ?? null, event.actor ?? null, JSON.stringify(event.data ?? {}), now];
      await statements(this.db).run(INSERT_EVENT, row);
      return;
    }
    await this.db.transaction(async (trx) => {
      await trx('events').insert({
        id: event.id,
        type: event.type,
        account_id: event.accountId ?? null,
        actor: event.actor ?? null,
        data: JSON.stringify(event.data ?? {}),
        created_at: now,
      });
      const hooks = await trx('webhooks').select('id', 'event_types');
      // Read again inside the transaction: the copy may be a few seconds old.
      const subscribed = hooks.filter((h) => subscribes(JSON.parse(String(h.event_types)) as string[], event.type));
      if (subscribed.length === 0) return;
      await trx('webhook_deliveries').insert(
        subscribed.map((h) => ({
          id: `msg_${randomUUID().replaceAll('-', '')}`,
          webhook_id: h.id,
          event_id: event.id,
          status: 'pending',
          attempts: 0,
          next_attempt_at: now,
          created_at: now,
        })),
      );
    });
  }

  private async subscriptions(): Promise<string[][]> {
    const cached = subscriptionCaches.get(this.db);
    if (cached && cached.until > Date.now()) return cached.eventTypes;
    const rows = await this.db('webhooks').select('event_types');
    const eventTypes = rows.map((row) => JSON.parse(String(row.event_types)) as string[]);
    subscriptionCaches.set(this.db, { eventTypes, until: Date.now() + SUBSCRIPTIONS_CACHE_MS });
    return eventTypes;
  }

  async list(afterSeq: number, limit: number, filter: EventFilter): Promise<RecordedEvent[]> {
    const query = this.db('events').where('seq', '>', afterSeq).orderBy('seq').limit(limit);
    if (filter.type !== undefined) query.andWhere('type', filter.type);
    if (filter.accountId !== undefined) query.andWhere('account_id', filter.accountId);
    return (await query).map(eventFromRow);
  }
}
