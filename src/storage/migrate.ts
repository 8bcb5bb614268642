import type { Knex } from 'knex';
import { migrations } from '../../migrations/index.ts';
import type { Db } from './db.ts';

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

/** Applies every pending migration; returns the names applied. */
export async function migrateToLatest(db: Db): Promise<string[]> {
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
