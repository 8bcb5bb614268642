import type { Knex } from 'knex';

/**
 * Backchannel (CIBA) approvals: the link a person opens to approve or deny an application's
 * request. Only a hash of the link's secret is stored; the request itself is oidc-provider's
 * BackchannelAuthenticationRequest (oidc_payloads).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('backchannel_approvals', (t) => {
    t.string('id', 40).primary();
    t.string('token_hash', 64).notNullable().unique();
    t.string('request_id', 255).notNullable().unique();
    t.string('account_id', 64).notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.string('client_id', 255).notNullable();
    t.string('binding_message', 200);
    t.text('details'); // JSON authorization_details, as the application sent them
    t.string('scope', 1000);
    t.string('status', 16).notNullable(); // pending | approved | denied
    t.bigInteger('expires_at').notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('decided_at');
    t.index(['expires_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('backchannel_approvals');
}
