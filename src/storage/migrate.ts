import type { Knex } from 'knex';
import { migrations } from '../../migrations/index.ts';
import { isPostgres, type Db } from './db.ts';

const source: Knex.MigrationSource<string> = {
  getMigrations: async () => migrations.map(([name]) => name),
  getMigrationName: (name) => name,
  getMigration: async (name) => {
    const found = migrations.find(([n]) => n === name);
    if (!found) throw new Error(`unknown migration ${name}`);
    return found[1];
  },
};

const options: Knex.MigratorConfig = { migrationSource: source, tableName: 'knex_migrations' };

/**
 * Applies every pending migration; returns the names applied. On PostgreSQL, nodes starting
 * together take turns through an advisory lock (per schema): knex creates its bookkeeping
 * tables before it takes its own migration lock, so two nodes on an empty schema would both
 * try to create them and one would fail to start.
 */
export async function migrateToLatest(db: Db): Promise<string[]> {
  if (!isPostgres(db)) return latest(db);
  const connection = (await db.client.acquireConnection()) as PgConnection;
  try {
    await connection.query(`SELECT pg_advisory_lock(hashtext('latchkey-migrations:' || current_schema()))`);
    try {
      return await latest(db);
    } finally {
      await connection.query(`SELECT pg_advisory_unlock(hashtext('latchkey-migrations:' || current_schema()))`);
    }
  } finally {
    db.client.releaseConnection(connection);
  }
}

interface PgConnection {
  query(sql: string): Promise<unknown>;
}

async function latest(db: Db): Promise<string[]> {
  const [, applied] = (await db.migrate.latest(options)) as [number, string[]];
  return applied;
}

/** Rolls every migration back (tests prove each `down` works). */
export async function rollbackAll(db: Db): Promise<void> {
  await db.migrate.rollback(options, true);
}

/** True when the database has every migration this build knows. */
export async function migrationsAreCurrent(db: Db): Promise<boolean> {
  const [, pending] = (await db.migrate.list(options)) as [unknown[], unknown[]];
  return pending.length === 0;
}
