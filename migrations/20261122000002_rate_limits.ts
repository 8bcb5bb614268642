import type { Knex } from 'knex';

/**
 * Rate-limit counters shared by every node, in the layout rate-limiter-flexible's SQLite and
 * PostgreSQL stores use (key, points, expire in epoch milliseconds).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('rate_limits', (t) => {
    t.string('key', 255).primary();
    t.integer('points').notNullable().defaultTo(0);
    t.bigInteger('expire');
    t.index(['expire']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('rate_limits');
}
