import type { Db } from './db.ts';
import { isPostgres } from './db.ts';

type Row = Record<string, unknown>;

/**
 * Prepared SQL for the hot paths (oidc-provider's storage, challenges, rate-limit counters):
 * written once with `?` placeholders, prepared once per pooled connection, and run on
 * connections of knex's own pool (see Lanes), so it never runs inside a knex transaction and
 * waits for one to end.
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

/** One statement waiting for a connection, with what to do with it once it has one. */
interface Job<C> {
  readonly work: (connection: C) => Promise<unknown>;
  readonly resolve: (value: never) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Runs statements on connections from knex's pool, one after another per connection. A lane
 * acquires a connection once and runs every statement queued meanwhile, handing the connection
 * back as soon as knex itself waits for one (a transaction, a query-builder query) or the queue
 * is empty. Acquiring through knex's pool costs more than a prepared point read (a pending
 * operation, its timeout timer and a dozen promises), so under load a lane pays it once per
 * burst instead of once per statement, and statements still queue behind knex's transactions.
 */
class Lanes<C> {
  private queue: Job<C>[] = [];
  private head = 0;
  private active = 0;

  constructor(
    private readonly db: Db,
    /** At most this many connections serve statements at once (SQLite: its one connection). */
    private readonly maxLanes: number,
  ) {}

  run<T>(work: (connection: C) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: never) => void, reject });
      if (this.active < this.maxLanes && this.active < this.waiting()) void this.lane();
    });
  }

  private waiting(): number {
    return this.queue.length - this.head;
  }

  private next(): Job<C> | undefined {
    if (this.head === this.queue.length) return undefined;
    const job = this.queue[this.head++]!;
    // Under steady load the queue may never run dry: drop the served part now and then.
    if (this.head === this.queue.length || this.head >= 1024) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return job;
  }

  private knexIsWaiting(): boolean {
    const pool = (this.db.client as { pool?: { numPendingAcquires(): number } }).pool;
    return (pool?.numPendingAcquires() ?? 0) > 0;
  }

  private async lane(): Promise<void> {
    this.active++;
    try {
      while (this.waiting() > 0) {
        let connection: C;
        try {
          connection = (await this.db.client.acquireConnection()) as C;
        } catch (error) {
          // The pool is closed or exhausted for its whole timeout: every waiting statement would fail alike.
          for (let job = this.next(); job; job = this.next()) job.reject(error);
          return;
        }
        try {
          for (let job = this.next(); job; job = this.next()) {
            try {
              job.resolve((await job.work(connection)) as never);
            } catch (error) {
              job.reject(error);
              // The connection itself may have failed: give it back for the pool to check.
              break;
            }
            if (this.knexIsWaiting()) break;
            // The statement's caller often issues its next one right away: give it one turn.
            if (this.waiting() === 0) await new Promise(setImmediate);
          }
        } finally {
          this.db.client.releaseConnection(connection);
        }
      }
    } finally {
      this.active--;
    }
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
  // Per connection: a statement belongs to the connection that prepared it. Once prepared, it is
  // found without another promise (this runs for every statement of every request).
  const prepared = new WeakMap<SqliteConnection, Map<string, SqliteStatement>>();
  const lanes = new Lanes<SqliteConnection>(db, 1);
  const withStatement = <T>(connection: SqliteConnection, sql: string, use: (statement: SqliteStatement) => Promise<T>): Promise<T> => {
    let cache = prepared.get(connection);
    if (!cache) prepared.set(connection, (cache = new Map()));
    const ready = cache.get(sql);
    if (ready) return use(ready);
    return new Promise<SqliteStatement>((resolve, reject) => {
      const created = connection.prepare(sql, (error) => (error ? reject(error) : resolve(created)));
    }).then((statement) => {
      cache.set(sql, statement);
      return use(statement);
    });
  };
  // SQLite refuses to close a connection with statements still prepared on it, and knex would
  // swallow that error and leak the file: finalize ours first when knex closes a connection.
  const client = db.client as { destroyRawConnection(connection: SqliteConnection): Promise<void> };
  const destroyRawConnection = client.destroyRawConnection.bind(client);
  client.destroyRawConnection = async (connection) => {
    const statements = [...(prepared.get(connection)?.values() ?? [])];
    prepared.delete(connection);
    for (const statement of statements) await new Promise<void>((resolve) => statement.finalize(resolve));
    return destroyRawConnection(connection);
  };
  return {
    // `all` steps to the end, which ends the statement's implicit read transaction; `get` would
    // leave it open and hold back every later write on this connection from committing.
    all: (sql, params) => {
      announce(db, sql, params);
      return lanes.run((connection) =>
        withStatement(connection, sql, (statement) =>
          new Promise<Row[]>((resolve, reject) => statement.all(params as unknown[], (error, rows) => (error ? failed(statement, error, reject) : resolve(rows)))),
        ),
      );
    },
    run: (sql, params) => {
      announce(db, sql, params);
      return lanes.run((connection) =>
        withStatement(connection, sql, (statement) =>
          new Promise<number>((resolve, reject) =>
            statement.run(params as unknown[], function (error) {
              if (error) failed(statement, error, reject);
              else resolve(this.changes);
            }),
          ),
        ),
      );
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
  // Leave knex a few connections of its pool for transactions and query-builder queries.
  const poolSize = (db.client.config as { pool?: { max?: number } }).pool?.max ?? 10;
  const lanes = new Lanes<PgConnection>(db, Math.max(1, poolSize - 2));
  const query = (sql: string, params: readonly unknown[]) => {
    announce(db, sql, params);
    const { name, text } = named(sql);
    return lanes.run((connection) => connection.query({ name, text, values: params as unknown[] }));
  };
  return {
    all: async (sql, params) => (await query(sql, params)).rows,
    run: async (sql, params) => (await query(sql, params)).rowCount ?? 0,
  };
}
