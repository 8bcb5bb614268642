import type { Knex } from 'knex';

/** Accounts, passkeys, email codes, WebAuthn challenges, signing keys and oidc-provider state. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('accounts', (t) => {
    t.string('id', 64).primary();
    t.string('email', 320).notNullable().unique();
    t.boolean('email_verified').notNullable().defaultTo(false);
    t.string('name', 200);
    // WebAuthn user.id: random, so it reveals nothing about the person.
    t.string('user_handle', 128).notNullable().unique();
    t.string('status', 16).notNullable().defaultTo('active');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
  });

  await knex.schema.createTable('passkeys', (t) => {
    t.string('id', 1400).primary(); // credential id, base64url (at most 1023 bytes raw)
    t.string('account_id', 64).notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.text('public_key').notNullable(); // COSE key, base64url
    t.bigInteger('counter').notNullable().defaultTo(0);
    t.text('transports').notNullable().defaultTo('[]');
    t.string('device_type', 16).notNullable(); // singleDevice | multiDevice
    t.boolean('backed_up').notNullable().defaultTo(false);
    t.boolean('user_verified').notNullable().defaultTo(false);
    t.string('aaguid', 36).notNullable();
    t.string('attestation_fmt', 32).notNullable().defaultTo('none');
    // Attestation certificates (base64 DER, leaf first), so client policies can judge the key later.
    t.text('attestation_chain').notNullable().defaultTo('[]');
    t.string('name', 100);
    t.bigInteger('created_at').notNullable();
    t.bigInteger('last_used_at');
    t.index(['account_id']);
  });

  await knex.schema.createTable('email_codes', (t) => {
    t.string('id', 64).primary();
    t.string('purpose', 16).notNullable(); // signup | recovery
    t.string('email', 320).notNullable();
    t.string('interaction_uid', 64).notNullable();
    t.string('code_hash', 128).notNullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.bigInteger('expires_at').notNullable();
    t.bigInteger('verified_at');
    t.bigInteger('created_at').notNullable();
    // One live code per interaction and purpose, even when two "send code" requests race.
    t.unique(['interaction_uid', 'purpose']);
    t.index(['expires_at']);
  });

  await knex.schema.createTable('webauthn_challenges', (t) => {
    t.string('challenge', 128).primary();
    t.string('purpose', 16).notNullable(); // registration | authentication
    t.string('interaction_uid', 64).notNullable();
    t.text('context'); // JSON: what the ceremony is for (pending account for registration)
    t.bigInteger('expires_at').notNullable();
    t.index(['interaction_uid']);
    t.index(['expires_at']);
  });

  await knex.schema.createTable('signing_keys', (t) => {
    t.string('kid', 64).primary();
    t.string('use', 8).notNullable(); // sig (token signing) | cookie (cookie signing secret)
    t.string('alg', 16);
    t.text('material').notNullable(); // private JWK (sig) or base64url secret (cookie)
    t.string('state', 16).notNullable(); // next | active | retired
    t.bigInteger('created_at').notNullable();
    t.bigInteger('retired_at');
    t.index(['use', 'state']);
  });

  await knex.schema.createTable('oidc_payloads', (t) => {
    t.string('model', 40).notNullable();
    t.string('id', 255).notNullable();
    t.text('payload').notNullable();
    t.string('grant_id', 255);
    t.string('user_code', 255);
    t.string('uid', 255);
    t.string('account_id', 64);
    t.string('client_id', 255);
    t.bigInteger('expires_at');
    t.bigInteger('consumed_at');
    t.primary(['model', 'id']);
    t.index(['grant_id']);
    t.index(['user_code']);
    t.index(['uid']);
    t.index(['account_id', 'model']);
    t.index(['expires_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['oidc_payloads', 'signing_keys', 'webauthn_challenges', 'email_codes', 'passkeys', 'accounts']) {
    await knex.schema.dropTableIfExists(table);
  }
}
