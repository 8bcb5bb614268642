import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knexFactory from 'knex';
import { openDatabase, type Db } from '../../src/storage/db.ts';
import { migrateToLatest } from '../../src/storage/migrate.ts';

export type DatabaseKind = 'sqlite' | 'postgres';

/** Every database Latchkey supports; storage suites run once per kind. */
export const DATABASE_KINDS: readonly DatabaseKind[] = ['sqlite', 'postgres'];

/** The PostgreSQL server the storage tests use (trust auth); override with LATCHKEY_TEST_PG_URL. */
export const POSTGRES_TEST_URL = process.env.LATCHKEY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  readonly db: Db;
  close(): Promise<void>;
}

/**
 * A fresh database. SQLite: a new file in a temp directory, opened as Latchkey opens it.
 * PostgreSQL: a new schema on the test server, found through the search path.
 * Pass `migrate: false` for an empty one (migration tests).
 */
export async function openTestDatabase(kind: DatabaseKind, options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const { db, close } = kind === 'sqlite' ? await openSqlite() : await openPostgres();
  if (options.migrate !== false) {
    try {
      await migrateToLatest(db);
    } catch (error) {
      await close();
      throw error;
    }
  }
  return { db, close };
}

async function openSqlite(): Promise<TestDatabase> {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-db-'));
  const db = openDatabase({ client: 'sqlite', filename: join(dir, 'latchkey.sqlite3') });
  let closed = false;
  return {
    db,
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function openPostgres(): Promise<TestDatabase> {
  const schema = `lk_test_${randomBytes(6).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: { connectionString: POSTGRES_TEST_URL }, pool: { min: 0, max: 1 } });
  try {
    await admin.raw('CREATE SCHEMA ??', [schema]);
  } catch (error) {
    await admin.destroy();
    throw error;
  }
  const db = knexFactory({
    client: 'pg',
    connection: { connectionString: POSTGRES_TEST_URL },
    searchPath: [schema],
    pool: { min: 0, max: 10 },
  });
  let closed = false;
  return {
    db,
    async close() {
      if (closed) return;
      closed = true;
      try {
        await db.destroy();
        await admin.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
      } finally {
        await admin.destroy();
      }
    },
  };
}
