import { randomUUID } from 'node:crypto';
import type { EventFilter, EventStore, RecordedEvent, SecurityEvent } from '../../domain/events.ts';
import type { Db } from '../db.ts';
import { toNumber } from '../rows.ts';

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
      const subscribed = hooks.filter((h) => {
        const types = JSON.parse(String(h.event_types)) as string[];
        return types.includes('*') || types.includes(event.type);
      });
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

  async list(afterSeq: number, limit: number, filter: EventFilter): Promise<RecordedEvent[]> {
    const query = this.db('events').where('seq', '>', afterSeq).orderBy('seq').limit(limit);
    if (filter.type !== undefined) query.andWhere('type', filter.type);
    if (filter.accountId !== undefined) query.andWhere('account_id', filter.accountId);
    return (await query).map(eventFromRow);
  }
}
