/**
 * The migrations build the whole schema on both databases, report themselves current, roll back
 * cleanly and apply again; SQLite is opened with WAL and enforced foreign keys.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPostgres, openDatabase, type Db } from '../../src/storage/db.ts';
import { migrateToLatest, migrationsAreCurrent, rollbackAll } from '../../src/storage/migrate.ts';
import { rawRows } from '../../src/storage/rows.ts';
import { migrations } from '../../migrations/index.ts';
import { DATABASE_KINDS, openTestDatabase, type TestDatabase } from '../helpers/databases.ts';

/** The tables the core schema must have (later migrations may add more). */
const TABLES = ['accounts', 'passkeys', 'email_codes', 'webauthn_challenges', 'signing_keys', 'oidc_payloads'];

function assertHasCoreTables(tables: string[]): void {
  for (const table of TABLES) assert.ok(tables.includes(table), `missing table ${table} in ${tables.join(', ')}`);
}

/** Every table of the database (the test schema on PostgreSQL), sorted. */
async function listTables(db: Db): Promise<string[]> {
  const result = isPostgres(db)
    ? await db.raw("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")
    : await db.raw("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
  return rawRows(result)
    .map((r) => String(r.name))
    .sort();
}

/** Tables other than knex's migration bookkeeping. */
function appTables(tables: string[]): string[] {
  return tables.filter((t) => !t.startsWith('knex_migrations')).sort();
}

for (const kind of DATABASE_KINDS) {
  describe(`migrations (${kind})`, () => {
    let t: TestDatabase;

    beforeEach(async () => {
      t = await openTestDatabase(kind, { migrate: false });
    });
    afterEach(async () => {
      await t.close();
    });

    it('starts from an empty database that is not current', async () => {
      assert.equal(isPostgres(t.db), kind === 'postgres');
      assert.deepEqual(await listTables(t.db), []);
      assert.equal(await migrationsAreCurrent(t.db), false);
    });

    it('migrateToLatest applies every migration and creates every table', async () => {
      const applied = await migrateToLatest(t.db);
      assert.deepEqual(applied, migrations.map(([name]) => name));
      assertHasCoreTables(await listTables(t.db));
      for (const table of TABLES) assert.equal(await t.db.schema.hasTable(table), true, table);
      assert.ok((await listTables(t.db)).includes('knex_migrations'));
      assert.equal(await migrationsAreCurrent(t.db), true);
    });

    it('a second migrateToLatest applies nothing', async () => {
      await migrateToLatest(t.db);
      assert.deepEqual(await migrateToLatest(t.db), []);
      assert.equal(await migrationsAreCurrent(t.db), true);
    });

    it('rollbackAll drops every table, and migrating again rebuilds them', async () => {
      await migrateToLatest(t.db);
      await t.db('accounts').insert({ id: 'a1', email: 'a@example.com', user_handle: 'h1', created_at: 1, updated_at: 1 });

      await rollbackAll(t.db);
      // Every table the migrations made is gone (only knex's own bookkeeping stays).
      assert.deepEqual(appTables(await listTables(t.db)), []);
      for (const table of TABLES) assert.equal(await t.db.schema.hasTable(table), false, table);
      assert.equal(await migrationsAreCurrent(t.db), false);

      assert.deepEqual(await migrateToLatest(t.db), migrations.map(([name]) => name));
      assertHasCoreTables(await listTables(t.db));
      assert.equal(await migrationsAreCurrent(t.db), true);
      // The rebuilt tables are empty: the rollback really dropped the data.
      assert.deepEqual(await t.db('accounts').select('id'), []);
    });

    it('deleting an account deletes its passkeys (ON DELETE CASCADE)', async () => {
      await migrateToLatest(t.db);
      await t.db('accounts').insert([
        { id: 'a1', email: 'a@example.com', user_handle: 'h1', created_at: 1, updated_at: 1 },
        { id: 'a2', email: 'b@example.com', user_handle: 'h2', created_at: 1, updated_at: 1 },
      ]);
      await t.db('passkeys').insert([
        { id: 'cred-1', account_id: 'a1', public_key: 'pk', device_type: 'singleDevice', aaguid: '00000000-0000-0000-0000-000000000000', created_at: 1 },
        { id: 'cred-2', account_id: 'a1', public_key: 'pk', device_type: 'multiDevice', aaguid: '00000000-0000-0000-0000-000000000000', created_at: 1 },
        { id: 'cred-3', account_id: 'a2', public_key: 'pk', device_type: 'multiDevice', aaguid: '00000000-0000-0000-0000-000000000000', created_at: 1 },
      ]);
      await t.db('accounts').where({ id: 'a1' }).delete();
      const left = await t.db('passkeys').select('id').orderBy('id');
      assert.deepEqual(left.map((r) => r.id), ['cred-3']);
    });

    it('refuses a passkey of an account that does not exist (foreign keys enforced)', async () => {
      await migrateToLatest(t.db);
      await assert.rejects(
        t.db('passkeys').insert({ id: 'cred-x', account_id: 'nobody', public_key: 'pk', device_type: 'singleDevice', aaguid: 'x', created_at: 1 }),
        /FOREIGN KEY|foreign key/,
      );
    });
  });
}

describe('openDatabase (sqlite)', () => {
  let dir: string;
  let db: Db;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-open-'));
    // A directory that does not exist yet: openDatabase creates it.
    db = openDatabase({ client: 'sqlite', filename: join(dir, 'nested', 'latchkey.sqlite3') });
  });
  afterEach(async () => {
    await db.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs in WAL mode', async () => {
    const rows = rawRows(await db.raw('PRAGMA journal_mode'));
    assert.equal(String(rows[0]?.journal_mode).toLowerCase(), 'wal');
  });

  it('enforces foreign keys', async () => {
    const rows = rawRows(await db.raw('PRAGMA foreign_keys'));
    assert.equal(rows[0]?.foreign_keys, 1);
  });

  it('waits for a busy writer instead of failing at once', async () => {
    const rows = rawRows(await db.raw('PRAGMA busy_timeout'));
    assert.equal(Object.values(rows[0] ?? {})[0], 5000);
  });

  it('is not PostgreSQL', () => {
    assert.equal(isPostgres(db), false);
  });
});
