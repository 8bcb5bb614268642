import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import knex from 'knex';
import { freePort, launchLatchkey, START_NODE_FLAGS } from '../helpers/process.ts';

describe('npm start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-start-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the database, migrates, generates keys, serves discovery, and stops on SIGTERM', async () => {
    const port = await freePort();
    const run = launchLatchkey(dir, { PORT: String(port) });
    try {
      await run.ready;
      assert.match(run.output(), new RegExp(`Latchkey issuer: http://localhost:${port}`));
      // With npm start's node flags, so this also proves that this Node accepts them.
      const commandLine = readFileSync(`/proc/${run.child.pid}/cmdline`, 'utf8').split('\0');
      assert.ok(START_NODE_FLAGS.length > 0 && START_NODE_FLAGS.every((flag) => commandLine.includes(flag)), commandLine.join(' '));
      const discovery = await fetch(`http://localhost:${port}/.well-known/openid-configuration`);
      assert.equal(discovery.status, 200);
      assert.equal(((await discovery.json()) as { issuer: string }).issuer, `http://localhost:${port}`);
    } finally {
      run.child.kill('SIGTERM');
    }
    assert.equal(await run.exited, 0, 'graceful shutdown exits 0');
    const file = join(dir, 'data', 'latchkey.sqlite3');
    assert.ok(existsSync(file), 'the default SQLite file is created under ./data');
    const db = knex({ client: 'sqlite3', connection: { filename: file }, useNullAsDefault: true });
    try {
      const keys = await db('signing_keys').select('use', 'alg');
      assert.deepEqual(keys.map((k) => `${k.use}:${k.alg ?? ''}`).sort(), ['cookie:', 'sig:ES256', 'sig:RS256']);
    } finally {
      await db.destroy();
    }

    // A second start reuses the keys: tokens and cookies survive a restart.
    const second = launchLatchkey(dir, { PORT: String(await freePort()) });
    try {
      await second.ready;
    } finally {
      second.child.kill('SIGTERM');
    }
    await second.exited;
    const again = knex({ client: 'sqlite3', connection: { filename: file }, useNullAsDefault: true });
    try {
      assert.equal((await again('signing_keys').count({ n: '*' }))[0]!.n, 3);
    } finally {
      await again.destroy();
    }
  });

  for (const [variable, value] of [
    ['PORT', 'eighty'],
    ['LATCHKEY_ISSUER', 'http://login.example.com'],
    ['DATABASE_URL', 'mysql://localhost/latchkey'],
    // Yellow buttons would keep black text readable, but yellow links on white would not be.
    ['LATCHKEY_BRAND_COLOR', '#ffd400'],
    ['LATCHKEY_SUPPORT_URL', 'http://help.example.com'],
  ] as const) {
    it(`refuses to start with a bad ${variable}, naming it`, async () => {
      const run = launchLatchkey(dir, { PORT: '3999', [variable]: value });
      await assert.rejects(run.ready);
      assert.equal(await run.exited, 1);
      assert.match(run.output(), new RegExp(`Latchkey cannot start: ${variable}:`));
    });
  }
});
