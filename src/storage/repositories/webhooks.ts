import { randomUUID } from 'node:crypto';
import type { ClaimedDelivery, DeliveryRecord, DeliveryStore, Webhook, WebhookStore } from '../../domain/webhooks.ts';
import type { Db } from '../db.ts';
import { toNullableNumber, toNumber } from '../rows.ts';
import { forgetSubscriptions } from './events.ts';

function webhookFromRow(row: Record<string, unknown>): Webhook {
  return {
    id: String(row.id),
    url: String(row.url),
    eventTypes: JSON.parse(String(row.event_types)) as string[],
    description: (row.description as string | null) ?? null,
    createdBy: (row.created_by as string | null) ?? null,
    createdAt: toNumber(row.created_at),
  };
}

function deliveryFromRow(row: Record<string, unknown>): DeliveryRecord {
  return {
    id: String(row.id),
    eventId: String(row.event_id),
    status: row.status as DeliveryRecord['status'],
    attempts: toNumber(row.attempts),
    nextAttemptAt: toNumber(row.next_attempt_at),
    lastStatus: toNullableNumber(row.last_status),
    lastError: (row.last_error as string | null) ?? null,
    createdAt: toNumber(row.created_at),
    deliveredAt: toNullableNumber(row.delivered_at),
  };
}

export class KnexWebhookStore implements WebhookStore {
  constructor(private readonly db: Db) {}

  async create(webhook: Webhook & { secret: string }): Promise<void> {
    await this.db('webhooks').insert({
      id: webhook.id,
      url: webhook.url,
      secret: webhook.secret,
      event_types: JSON.stringify(webhook.eventTypes),
      description: webhook.description,
      created_by: webhook.createdBy,
      created_at: webhook.createdAt,
    });
    forgetSubscriptions(this.db);
  }

  async list(): Promise<Webhook[]> {
    return (await this.db('webhooks').orderBy([{ column: 'created_at' }, { column: 'id' }])).map(webhookFromRow);
  }

  async find(id: string): Promise<Webhook | undefined> {
    const row = await this.db('webhooks').where({ id }).first();
    return row ? webhookFromRow(row) : undefined;
  }

  async delete(id: string): Promise<boolean> {
    const deleted = await this.db.transaction(async (trx) => {
      await trx('webhook_deliveries').where({ webhook_id: id }).delete();
      return (await trx('webhooks').where({ id }).delete()) === 1;
    });
    forgetSubscriptions(this.db);
    return deleted;
  }

  async deliveries(id: string, limit: number): Promise<DeliveryRecord[]> {
    const rows = await this.db('webhook_deliveries').where({ webhook_id: id }).orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(limit);
    return rows.map(deliveryFromRow);
  }
}

/** The outbox side: claiming due deliveries and recording outcomes, safe on several nodes. */
export class KnexDeliveryStore implements DeliveryStore {
  constructor(private readonly db: Db) {}

  async claim(now: number, leaseMs: number, limit: number): Promise<ClaimedDelivery[]> {
    const token = randomUUID();
    const due = (q: ReturnType<Db>) =>
      q.where('status', 'pending').andWhere('next_attempt_at', '<=', now).andWhere((w) => w.whereNull('claimed_until').orWhere('claimed_until', '<', now));
    // One UPDATE claims the rows. The outer conditions repeat the inner ones: PostgreSQL
    // re-checks them on a row another node updated meanwhile, so two nodes never both win it.
    await due(this.db('webhook_deliveries'))
      .whereIn('id', due(this.db('webhook_deliveries').select('id')).orderBy('next_attempt_at').limit(limit))
      .update({ claim_token: token, claimed_until: now + leaseMs });
    const rows = await this.db('webhook_deliveries as d')
      .join('webhooks as w', 'w.id', 'd.webhook_id')
      .join('events as e', 'e.id', 'd.event_id')
      .where('d.claim_token', token)
      .select('d.id', 'd.attempts', 'w.url', 'w.secret', 'e.id as event_id', 'e.type', 'e.account_id', 'e.actor', 'e.data', 'e.created_at');
    return rows.map((r) => ({
      id: String(r.id),
      claimToken: token,
      attempts: toNumber(r.attempts),
      url: String(r.url),
      secret: String(r.secret),
      event: {
        id: String(r.event_id),
        type: String(r.type),
        accountId: (r.account_id as string | null) ?? null,
        actor: (r.actor as string | null) ?? null,
        data: JSON.parse(String(r.data)) as Record<string, unknown>,
        createdAt: toNumber(r.created_at),
      },
    }));
  }

  /** Pending deliveries and the oldest one's creation time: one query on the (status, …) index. */
  async backlog(): Promise<{ pending: number; oldestCreatedAt: number | null }> {
    const row = (await this.db('webhook_deliveries').where('status', 'pending').count({ n: '*' }).min({ oldest: 'created_at' }).first()) as { n: unknown; oldest: unknown } | undefined;
    return { pending: toNumber(row?.n ?? 0), oldestCreatedAt: toNullableNumber(row?.oldest ?? null) };
  }

  async finish(delivery: ClaimedDelivery, outcome: { delivered: boolean; now: number; nextAttemptAt: number | null; status: number | null; error: string | null }): Promise<void> {
    await this.db('webhook_deliveries')
      .where({ id: delivery.id, claim_token: delivery.claimToken })
      .update({
        status: outcome.delivered ? 'delivered' : outcome.nextAttemptAt === null ? 'failed' : 'pending',
        attempts: delivery.attempts + 1,
        next_attempt_at: outcome.nextAttemptAt ?? outcome.now,
        delivered_at: outcome.delivered ? outcome.now : null,
        last_status: outcome.status,
        last_error: outcome.error,
        claim_token: null,
        claimed_until: null,
      });
  }
}
