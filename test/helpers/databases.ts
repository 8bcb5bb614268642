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
  /** The DATABASE_URL a Latchkey process would be given for this database. */
  readonly url: string;
  /**
   * Another connection pool on the same database, as a second Latchkey node would have;
   * destroyed by close().
   */
  connect(): Db;
  close(): Promise<void>;
}

/**
 * A fresh database. SQLite: a new file in a temp directory, opened as Latchkey opens it.
 * PostgreSQL: a new schema on the test server, found through the search path.
 * Pass `migrate: false` for an empty one (migration tests).
 */
export async function openTestDatabase(kind: DatabaseKind, options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const opened = kind === 'sqlite' ? await openSqlite() : await openPostgres();
  if (options.migrate !== false) {
    try {
      await migrateToLatest(opened.db);
    } catch (error) {
      await opened.close();
      throw error;
    }
  }
  return opened;
}

async function openSqlite(): Promise<TestDatabase> {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-db-'));
  const filename = join(dir, 'latchkey.sqlite3');
  const db = openDatabase({ client: 'sqlite', filename });
  const others: Db[] = [];
  let closed = false;
  return {
    db,
    url: `sqlite:${filename}`,
    connect() {
      const other = openDatabase({ client: 'sqlite', filename });
      others.push(other);
      return other;
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([db, ...others].map((d) => d.destroy()));
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
  const connect = () =>
    knexFactory({
      client: 'pg',
      connection: { connectionString: POSTGRES_TEST_URL },
      searchPath: [schema],
      pool: { min: 0, max: 10 },
    });
  const db = connect();
  const others: Db[] = [];
  let closed = false;
  const url = new URL(POSTGRES_TEST_URL);
  url.searchParams.set('schema', schema);
  return {
    db,
    url: url.href,
    connect() {
      const other = connect();
      others.push(other);
      return other;
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await Promise.all([db, ...others].map((d) => d.destroy()));
        await admin.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
      } finally {
        await admin.destroy();
      }
    },
  };
}
