import type { Knex } from 'knex';

/**
 * Management API: an application's own identifier for an account (`external_id`, possibly a
 * hash the application computed), unique when present.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.string('external_id', 255).nullable().unique();
    // Keyset pagination of the user list walks (created_at, id).
    t.index(['created_at', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.dropIndex(['created_at', 'id']);
    t.dropUnique(['external_id']);
  });
  await knex.schema.alterTable('accounts', (t) => {
    t.dropColumn('external_id');
  });
}
