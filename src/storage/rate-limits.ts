import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Db } from './db.ts';
import { toNullableNumber, toNumber } from './rows.ts';
import { statements } from './statements.ts';

/**
 * rate-limiter-flexible's SQLite store (not its PostgreSQL or Redis ones) runs its upsert on a raw pooled connection inside a
 * SAVEPOINT, hands the connection back before the statement ran, and on failure (SQLITE_BUSY
 * while another process holds the lock) rolls back to the savepoint without releasing it. That
 * leaves Latchkey's only connection inside a transaction that never commits: every later write
 * would look successful and be lost. The upsert is one atomic statement, so it runs as one
 * ordinary prepared statement on knex's pool instead (same SQL as the library's).
 */
export function upsertThroughKnex(limiter: RateLimiterAbstract, db: Db): void {
  (limiter as unknown as { _upsertTransaction: unknown })._upsertTransaction = async (key: string, points: number, msDuration: number, forceExpire = false) => {
    const now = Date.now();
    const expire = msDuration > 0 ? now + msDuration : null;
    const sql = statements(db);
    const [row] = forceExpire
      ? await sql.all('INSERT OR REPLACE INTO rate_limits (key, points, expire) VALUES (?, ?, ?) RETURNING points, expire', [key, points, expire])
      : await sql.all(
          `INSERT INTO rate_limits (key, points, expire) VALUES (?, ?, ?)
           ON CONFLICT(key) DO UPDATE SET
             points = CASE WHEN expire IS NULL OR expire > ? THEN points + excluded.points ELSE excluded.points END,
             expire = CASE WHEN expire IS NULL OR expire > ? THEN expire ELSE excluded.expire END
           RETURNING points, expire`,
          [key, points, expire, now, now],
        );
    return row ? { points: toNumber(row.points), expire: toNullableNumber(row.expire) } : row;
  };
}

/**
 * rate-limiter-flexible's PostgreSQL store acquires a connection from knex's pool for each of
 * its statements (its own `_query`), which costs more than the upsert itself. They run through
 * Latchkey's prepared-statement lanes instead: the same SQL and values, counted like every
 * other query.
 */
export function queryThroughStatements(limiter: RateLimiterAbstract, db: Db): void {
  const sql = statements(db);
  (limiter as unknown as { _query: unknown })._query = async (query: { text: string; values?: unknown[] }) => {
    const values = query.values ?? [];
    // Its deletes report how many rows went; its other statements return rows.
    if (/^\s*DELETE\b/i.test(query.text)) return { rows: [], rowCount: await sql.run(query.text, values) };
    const rows = await sql.all(query.text, values);
    return { rows, rowCount: rows.length };
  };
}
