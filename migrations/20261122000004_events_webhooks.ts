import type { Knex } from 'knex';

/**
 * The audit log of security events (append-only: Latchkey never updates or deletes a row),
 * webhook subscriptions, and the outbox of deliveries, one row per event and subscription,
 * written in the same transaction as the event so none is lost.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('events', (t) => {
    // Insertion order, for cursor pagination; `id` is the public identifier.
    t.bigIncrements('seq');
    t.string('id', 40).notNullable().unique();
    t.string('type', 64).notNullable();
    // No foreign key: the log outlives a deleted account.
    t.string('account_id', 64);
    t.string('actor', 300);
    t.text('data').notNullable().defaultTo('{}');
    t.bigInteger('created_at').notNullable();
    t.index(['account_id', 'seq']);
    t.index(['type', 'seq']);
  });

  await knex.schema.createTable('webhooks', (t) => {
    t.string('id', 40).primary();
    t.text('url').notNullable();
    // The Standard Webhooks signing secret (whsec_…): shown once, needed to sign every delivery.
    t.string('secret', 100).notNullable();
    t.text('event_types').notNullable(); // JSON array; ["*"] for every type
    t.string('description', 200);
    t.string('created_by', 300);
    t.bigInteger('created_at').notNullable();
  });

  await knex.schema.createTable('webhook_deliveries', (t) => {
    t.string('id', 40).primary(); // the webhook-id header: the same on every retry
    t.string('webhook_id', 40).notNullable().references('id').inTable('webhooks').onDelete('CASCADE');
    t.string('event_id', 40).notNullable();
    t.string('status', 16).notNullable(); // pending | delivered | failed
    t.integer('attempts').notNullable().defaultTo(0);
    t.bigInteger('next_attempt_at').notNullable();
    // A node claims a due row by writing its token and a lease; others skip it until the lease ends.
    t.string('claim_token', 40);
    t.bigInteger('claimed_until');
    t.integer('last_status');
    t.string('last_error', 500);
    t.bigInteger('created_at').notNullable();
    t.bigInteger('delivered_at');
    t.index(['status', 'next_attempt_at']);
    t.index(['webhook_id', 'created_at']);
    t.index(['claim_token']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['webhook_deliveries', 'webhooks', 'events']) await knex.schema.dropTableIfExists(table);
}
