import type { Db } from './db.ts';
import { isPostgres } from './db.ts';

type Row = Record<string, unknown>;

/**
 * Prepared SQL for the hot paths (oidc-provider's storage, challenges, rate-limit counters):
 * written once with `?` placeholders, prepared once per pooled connection, and run on knex's
 * own pool, so it queues behind knex transactions exactly like a knex query would.
 *
 * Why not the query builder here: measured on one core, a point read through knex costs about
 * 100 µs of CPU, of which the sqlite3 driver is about 25 µs; building, compiling and running
 * the query through knex's runner is the rest. A flow makes dozens of these.
 */
export interface Statements {
  /** Every row. Use it for SELECT and for writes with RETURNING (they must run to completion). */
  all(sql: string, params: readonly unknown[]): Promise<Row[]>;
  /** A write without RETURNING: how many rows it changed. */
  run(sql: string, params: readonly unknown[]): Promise<number>;
}

const perDatabase = new WeakMap<Db, Statements>();

/** The prepared-statement runner of a database (one per knex instance). */
export function statements(db: Db): Statements {
  let runner = perDatabase.get(db);
  if (!runner) perDatabase.set(db, (runner = isPostgres(db) ? postgresStatements(db) : sqliteStatements(db)));
  return runner;
}

/** Counted like knex's own queries (`db.on('query')`), so query-count checks see these too. */
function announce(db: Db, sql: string, params: readonly unknown[]): void {
  if (db.listenerCount('query') > 0) db.client.emit('query', { sql, bindings: params, method: 'raw' });
}

async function withConnection<C, T>(db: Db, use: (connection: C) => Promise<T>): Promise<T> {
  const connection = (await db.client.acquireConnection()) as C;
  try {
    return await use(connection);
  } finally {
    db.client.releaseConnection(connection);
  }
}

interface SqliteStatement {
  all(params: unknown[], callback: (error: Error | null, rows: Row[]) => void): void;
  run(params: unknown[], callback: (this: { changes: number }, error: Error | null) => void): void;
  reset(callback: () => void): void;
  finalize(callback: () => void): void;
}
interface SqliteConnection {
  prepare(sql: string, callback: (error: Error | null) => void): SqliteStatement;
}

/**
 * A statement that failed (SQLITE_BUSY while another process holds the write lock) is reset
 * before the error goes on: until then it keeps the connection's read snapshot open, and every
 * later write on the connection would fail against that stale snapshot.
 */
function failed(statement: SqliteStatement, error: Error, reject: (error: Error) => void): void {
  statement.reset(() => reject(error));
}

function sqliteStatements(db: Db): Statements {
  // Per connection: a statement belongs to the connection that prepared it.
  const prepared = new WeakMap<SqliteConnection, Map<string, Promise<SqliteStatement>>>();
  const prepare = (connection: SqliteConnection, sql: string): Promise<SqliteStatement> => {
    let cache = prepared.get(connection);
    if (!cache) prepared.set(connection, (cache = new Map()));
    let statement = cache.get(sql);
    if (!statement) {
      statement = new Promise((resolve, reject) => {
        const created = connection.prepare(sql, (error) => (error ? reject(error) : resolve(created)));
      });
      statement.catch(() => cache.delete(sql));
      cache.set(sql, statement);
    }
    return statement;
  };
  // SQLite refuses to close a connection with statements still prepared on it, and knex would
  // swallow that error and leak the file: finalize ours first when knex closes a connection.
  const client = db.client as { destroyRawConnection(connection: SqliteConnection): Promise<void> };
  const destroyRawConnection = client.destroyRawConnection.bind(client);
  client.destroyRawConnection = async (connection) => {
    const statements = [...(prepared.get(connection)?.values() ?? [])];
    prepared.delete(connection);
    for (const statement of await Promise.allSettled(statements)) {
      if (statement.status === 'fulfilled') await new Promise<void>((resolve) => statement.value.finalize(resolve));
    }
    return destroyRawConnection(connection);
  };
  return {
    // `all` steps to the end, which ends the statement's implicit read transaction; `get` would
    // leave it open and hold back every later write on this connection from committing.
    all: (sql, params) => {
      announce(db, sql, params);
      return withConnection(db, async (connection: SqliteConnection) => {
        const statement = await prepare(connection, sql);
        return new Promise<Row[]>((resolve, reject) => statement.all([...params], (error, rows) => (error ? failed(statement, error, reject) : resolve(rows))));
      });
    },
    run: (sql, params) => {
      announce(db, sql, params);
      return withConnection(db, async (connection: SqliteConnection) => {
        const statement = await prepare(connection, sql);
        return new Promise<number>((resolve, reject) =>
          statement.run([...params], function (error) {
            if (error) failed(statement, error, reject);
            else resolve(this.changes);
          }),
        );
      });
    },
  };
}

interface PgConnection {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: Row[]; rowCount: number | null }>;
}

function postgresStatements(db: Db): Statements {
  // pg prepares a named statement once per connection and reuses it by name afterwards.
  const names = new Map<string, { name: string; text: string }>();
  const named = (sql: string) => {
    let entry = names.get(sql);
    if (!entry) {
      let n = 0;
      names.set(sql, (entry = { name: `lk_${names.size}`, text: sql.replace(/\?/g, () => `$${++n}`) }));
    }
    return entry;
  };
  const query = (sql: string, params: readonly unknown[]) => {
    announce(db, sql, params);
    const { name, text } = named(sql);
    return withConnection(db, (connection: PgConnection) => connection.query({ name, text, values: [...params] }));
  };
  return {
    all: async (sql, params) => (await query(sql, params)).rows,
    run: async (sql, params) => (await query(sql, params)).rowCount ?? 0,
  };
}
