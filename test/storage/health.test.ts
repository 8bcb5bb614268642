import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openDatabase } from '../../src/storage/db.ts';
import { checkDatabase } from '../../src/storage/health.ts';
import { DATABASE_KINDS, openTestDatabase } from '../helpers/databases.ts';

for (const kind of DATABASE_KINDS) {
  describe(`database health (${kind})`, () => {
    it('is reachable and current after the migrations, pending before them', async () => {
      const migrated = await openTestDatabase(kind);
      const empty = await openTestDatabase(kind, { migrate: false });
      try {
        assert.deepEqual(await checkDatabase(migrated.db, 2000), { reachable: true, migrationsCurrent: true });
        assert.deepEqual(await checkDatabase(empty.db, 2000), { reachable: true, migrationsCurrent: false });
      } finally {
        await Promise.all([migrated.close(), empty.close()]);
      }
    });
  });
}

describe('database health without a database', () => {
  it('reports an unreachable server within the timeout', async () => {
    const db = openDatabase({ client: 'postgres', connectionString: 'postgres://postgres@127.0.0.1:1/none' });
    try {
      const started = Date.now();
      assert.deepEqual(await checkDatabase(db, 1000), { reachable: false, migrationsCurrent: false });
      assert.ok(Date.now() - started < 2000);
    } finally {
      await db.destroy();
    }
  });
});
