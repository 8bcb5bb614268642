/**
 * The prepared-statement runner of the hot paths (src/storage/statements.ts) on both
 * databases: same answers as the query builder, every statement counted, and on SQLite the
 * two ways a reused prepared statement can hurt a connection (a failed write pinning a stale
 * snapshot, statements left open when the pool closes the connection).
 */
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { statements } from '../../src/storage/statements.ts';
import { DATABASE_KINDS, openTestDatabase, type TestDatabase } from '../helpers/databases.ts';

const account = (id: string) => ({ id, email: `${id}@example.com`, email_verified: true, user_handle: `h-${id}`, status: 'active', created_at: 1, updated_at: 1 });

for (const kind of DATABASE_KINDS) {
  describe(`prepared statements (${kind})`, () => {
    let t: TestDatabase;
    beforeEach(async () => {
      t = await openTestDatabase(kind);
    });
    afterEach(() => t.close());

    it('reads rows, counts changed rows, and is counted like a knex query', async () => {
      await t.db('accounts').insert([account('a1'), account('a2')]);
      const seen: string[] = [];
      t.db.on('query', (q: { sql: string }) => seen.push(q.sql));
      const sql = statements(t.db);
      // Twice: the second run reuses the prepared statement.
      for (let i = 0; i < 2; i++) {
        const rows = await sql.all('SELECT id, email FROM accounts WHERE id = ? OR id = ? ORDER BY id', ['a1', 'a2']);
        assert.deepEqual(rows.map((r) => ({ ...r })), [{ id: 'a1', email: 'a1@example.com' }, { id: 'a2', email: 'a2@example.com' }]);
      }
      assert.equal(await sql.run("UPDATE accounts SET status = 'disabled' WHERE id = ?", ['a1']), 1);
      assert.equal(await sql.run("UPDATE accounts SET status = 'disabled' WHERE id = ?", ['nobody']), 0);
      assert.equal((await t.db('accounts').where({ id: 'a1' }).first()).status, 'disabled');
      assert.equal(seen.filter((s) => s.startsWith('SELECT id, email')).length, 2);
      await assert.rejects(sql.all('SELECT nope FROM accounts', []));
      // The failure leaves the runner usable.
      assert.equal((await sql.all('SELECT count(*) AS n FROM accounts', []))[0]!.n, kind === 'sqlite' ? 2 : '2');
    });

    it('never runs inside a knex transaction: a statement waits for it to end', async () => {
      const sql = statements(t.db);
      await sql.all('SELECT id FROM accounts WHERE id = ?', ['warm']);
      const trx = await t.db.transaction();
      await trx('accounts').insert(account('uncommitted'));
      const read = sql.all('SELECT id FROM accounts WHERE id = ?', ['uncommitted']);
      await new Promise((resolve) => setTimeout(resolve, 50));
      await trx.rollback();
      assert.deepEqual(await read, [], 'it did not see the rolled-back row');
    });

    it('hands the connection to a knex query waiting behind a stream of statements', async () => {
      await t.db('accounts').insert(account('a1'));
      const sql = statements(t.db);
      const order: string[] = [];
      const backlog = Array.from({ length: 300 }, (_, i) => sql.all('SELECT id FROM accounts WHERE id = ?', ['a1']).then(() => order.push(`statement ${i}`)));
      const knexQuery = t.db('accounts').where({ id: 'a1' }).first().then(() => order.push('knex'));
      await Promise.all([...backlog, knexQuery]);
      assert.ok(order.indexOf('knex') < order.length - 100, `the knex query ran at position ${order.indexOf('knex')} of ${order.length}`);
    });
  });
}

describe('prepared statements on SQLite, against another process', () => {
  let t: TestDatabase;
  beforeEach(async () => {
    t = await openTestDatabase('sqlite');
  });
  afterEach(() => t.close());

  it('a write refused while another connection holds the lock does not pin the connection', async () => {
    const sql = statements(t.db);
    await t.db.raw('PRAGMA busy_timeout = 50');
    const other = t.connect();
    const insert = 'INSERT INTO accounts (id, email, email_verified, user_handle, status, created_at, updated_at) VALUES (?, ?, 1, ?, ?, 1, 1)';
    await sql.all('SELECT id FROM accounts WHERE id = ?', ['warm']); // a prepared read, as in production
    await other.raw('BEGIN EXCLUSIVE');
    // A write with RETURNING (as challenges and rate-limit counters use) runs through `all`.
    await assert.rejects(sql.all(`${insert} RETURNING id`, ['b0', 'b0@example.com', 'h-b0', 'active']), /SQLITE_BUSY/);
    await assert.rejects(sql.run(insert, ['b1', 'b1@example.com', 'h-b1', 'active']), /SQLITE_BUSY/);
    await other.raw('INSERT INTO accounts (id, email, email_verified, user_handle, status, created_at, updated_at) VALUES (?, ?, 1, ?, ?, 1, 1)', ['o1', 'o1@example.com', 'h-o1', 'active']);
    await other.raw('COMMIT');
    // The same statement now writes, and the write is committed: the other connection sees it.
    assert.equal(await sql.run(insert, ['b1', 'b1@example.com', 'h-b1', 'active']), 1);
    assert.ok(await other('accounts').where({ id: 'b1' }).first());
    assert.ok((await sql.all('SELECT id FROM accounts WHERE id = ?', ['o1']))[0], 'and it reads what the other wrote');
  });

  it('closing the database closes the file, statements prepared or not', { skip: process.platform === 'linux' ? false : 'reads /proc/self/fd' }, async () => {
    const file = t.url.slice('sqlite:'.length);
    const openFiles = () => readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith(file);
      } catch {
        return false;
      }
    }).length;
    await statements(t.db).all('SELECT id FROM accounts WHERE id = ?', ['x']);
    await statements(t.db).run('DELETE FROM accounts WHERE id = ?', ['x']);
    assert.ok(openFiles() > 0);
    await t.db.destroy();
    assert.equal(openFiles(), 0);
  });
});
