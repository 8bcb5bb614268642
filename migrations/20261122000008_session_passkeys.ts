import type { Knex } from 'knex';

/**
 * Which passkey each browser session last proved itself with, so that removing a lost or
 * stolen passkey also signs out the browsers that signed in with it. One row per session
 * (oidc-provider's stable session uid); it expires with the session and goes with the account.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('session_passkeys', (t) => {
    t.string('session_uid', 255).primary();
    t.string('account_id', 64).notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.string('passkey_id', 1400).notNullable(); // as passkeys.id
    t.bigInteger('expires_at').notNullable();
    t.index(['passkey_id']);
    t.index(['expires_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('session_passkeys');
}
