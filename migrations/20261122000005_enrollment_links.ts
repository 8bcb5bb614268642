import type { Knex } from 'knex';

/**
 * Enrollment links: a backend invites a person to create a passkey for their account. Only a
 * hash of the link's secret is stored, so a database reader cannot use a pending link.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('enrollment_links', (t) => {
    t.string('id', 40).primary();
    t.string('token_hash', 64).notNullable().unique(); // sha256 hex of the secret in the URL
    t.string('account_id', 64).notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.string('status', 16).notNullable(); // created | opened | completed | revoked (expired is computed)
    t.text('policy').notNullable(); // JSON, as the API received it
    t.string('invited_by', 200).notNullable();
    t.string('created_by', 300).notNullable();
    t.bigInteger('expires_at').notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('opened_at');
    t.bigInteger('completed_at');
    t.bigInteger('revoked_at');
    t.string('passkey_id', 1400);
    t.index(['account_id', 'created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('enrollment_links');
}
