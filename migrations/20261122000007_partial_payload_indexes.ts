import type { Knex } from 'knex';

/**
 * oidc_payloads' lookup indexes skip the rows that leave their column empty: only sessions
 * carry a uid, only device codes a user code, and interactions and sessions no grant. An
 * index entry that is never looked up still costs a B-tree write on every save, and saves are
 * the hot path (measured on SQLite: an upsert with all five full indexes ≈ 100 µs of CPU, with
 * none ≈ 55 µs). Lookups are unchanged: `uid = ?` implies `uid IS NOT NULL`, so both databases
 * still use the index.
 */
const PARTIAL: ReadonlyArray<readonly [name: string, columns: string, notNull: string]> = [
  ['oidc_payloads_grant_id_index', 'grant_id', 'grant_id'],
  ['oidc_payloads_user_code_index', 'user_code', 'user_code'],
  ['oidc_payloads_uid_index', 'uid', 'uid'],
  ['oidc_payloads_account_id_model_index', 'account_id, model', 'account_id'],
];

export async function up(knex: Knex): Promise<void> {
  for (const [name, columns, notNull] of PARTIAL) {
    await knex.raw(`DROP INDEX IF EXISTS ${name}`);
    await knex.raw(`CREATE INDEX ${name} ON oidc_payloads (${columns}) WHERE ${notNull} IS NOT NULL`);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const [name, columns] of PARTIAL) {
    await knex.raw(`DROP INDEX IF EXISTS ${name}`);
    await knex.raw(`CREATE INDEX ${name} ON oidc_payloads (${columns})`);
  }
}
