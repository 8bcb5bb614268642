import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import type { DatabaseConfig } from '../config/env.ts';

export type Db = Knex;

/**
 * Opens the database named by the configuration. SQLite runs in WAL mode with foreign keys
 * enforced and a busy timeout, so concurrent requests wait for the writer instead of failing.
 */
export function openDatabase(config: DatabaseConfig): Db {
  if (config.client === 'sqlite') {
    mkdirSync(dirname(config.filename), { recursive: true });
    return knexFactory({
      client: 'sqlite3',
      connection: { filename: config.filename },
      useNullAsDefault: true,
      pool: {
        // One connection: SQLite has one writer anyway, and a single connection makes every
        // transaction strictly serial, which is what the single-use checks rely on.
        min: 1,
        max: 1,
        afterCreate(conn: SqliteConnection, done: (err: Error | null, conn: SqliteConnection) => void) {
          conn.serialize(() => {
            conn.run('PRAGMA journal_mode = WAL');
            conn.run('PRAGMA synchronous = NORMAL');
            conn.run('PRAGMA foreign_keys = ON');
            conn.run('PRAGMA busy_timeout = 5000', (err) => done(err, conn));
          });
        },
      },
    });
  }
  return knexFactory({
    client: 'pg',
    connection: { connectionString: config.connectionString },
    ...(config.schema ? { searchPath: [config.schema] } : {}),
    pool: { min: 0, max: 10 },
  });
}

interface SqliteConnection {
  serialize(fn: () => void): void;
  run(sql: string, cb?: (err: Error | null) => void): void;
}

export function isPostgres(db: Db): boolean {
  return db.client.config.client === 'pg';
}
