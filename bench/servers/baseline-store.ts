/**
 * The persisting baseline's storage: the simplest durable oidc-provider adapter one would
 * write on the same driver Latchkey uses (sqlite3), with none of Latchkey's layers. One table,
 * one connection in WAL mode, statements prepared once; codes and refresh tokens consumed with
 * a conditional UPDATE so they stay single-use. It answers "what does the protocol plus WebAuthn
 * cost once its state survives a restart?", next to the in-memory baseline.
 */
import sqlite3 from 'sqlite3';
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';

type Row = { payload: string; expires_at: number | null; consumed_at: number | null };

const SCHEMA = [
  'PRAGMA journal_mode = WAL',
  'PRAGMA synchronous = NORMAL',
  `CREATE TABLE IF NOT EXISTS payloads (model TEXT NOT NULL, id TEXT NOT NULL, payload TEXT NOT NULL, grant_id TEXT, uid TEXT,
     user_code TEXT, expires_at INTEGER, consumed_at INTEGER, PRIMARY KEY (model, id))`,
  'CREATE INDEX IF NOT EXISTS payloads_grant_id ON payloads (grant_id) WHERE grant_id IS NOT NULL',
  'CREATE INDEX IF NOT EXISTS payloads_uid ON payloads (model, uid) WHERE uid IS NOT NULL',
];

export async function openBaselineStore(filename: string): Promise<new (model: string) => Adapter> {
  const db = new sqlite3.Database(filename);
  const exec = (sql: string) => new Promise<void>((resolve, reject) => db.run(sql, (error) => (error ? reject(error) : resolve())));
  for (const sql of SCHEMA) await exec(sql);
  const prepared = new Map<string, sqlite3.Statement>();
  const statement = (sql: string) => {
    let found = prepared.get(sql);
    if (!found) prepared.set(sql, (found = db.prepare(sql)));
    return found;
  };
  const all = (sql: string, params: unknown[]) =>
    new Promise<Row[]>((resolve, reject) => statement(sql).all(params, (error: Error | null, rows: Row[]) => (error ? reject(error) : resolve(rows))));
  const run = (sql: string, params: unknown[]) =>
    new Promise<number>((resolve, reject) =>
      statement(sql).run(params, function (this: sqlite3.RunResult, error: Error | null) {
        if (error) reject(error);
        else resolve(this.changes);
      }),
    );
  const now = () => Math.floor(Date.now() / 1000);
  const parse = (row: Row | undefined): AdapterPayload | undefined => {
    if (!row || (row.expires_at !== null && row.expires_at <= now())) return undefined;
    const payload = JSON.parse(row.payload) as AdapterPayload;
    return row.consumed_at === null ? payload : { ...payload, consumed: row.consumed_at };
  };

  return class BaselineSqliteAdapter implements Adapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      await run(
        `INSERT INTO payloads (model, id, payload, grant_id, uid, user_code, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid,
           user_code = excluded.user_code, expires_at = excluded.expires_at`,
        [this.model, id, JSON.stringify(payload), payload.grantId ?? null, payload.uid ?? null, payload.userCode ?? null, expiresIn ? now() + expiresIn : null],
      );
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      return parse((await all('SELECT payload, expires_at, consumed_at FROM payloads WHERE model = ? AND id = ?', [this.model, id]))[0]);
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return parse((await all('SELECT payload, expires_at, consumed_at FROM payloads WHERE model = ? AND uid = ?', [this.model, uid]))[0]);
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return parse((await all('SELECT payload, expires_at, consumed_at FROM payloads WHERE model = ? AND user_code = ?', [this.model, userCode]))[0]);
    }

    async consume(id: string): Promise<void> {
      const changed = await run('UPDATE payloads SET consumed_at = ? WHERE model = ? AND id = ? AND consumed_at IS NULL', [now(), this.model, id]);
      if (changed !== 1) throw new errors.InvalidGrant('grant request is invalid');
    }

    async destroy(id: string): Promise<void> {
      await run('DELETE FROM payloads WHERE model = ? AND id = ?', [this.model, id]);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await run('DELETE FROM payloads WHERE grant_id = ?', [grantId]);
    }
  };
}
