/**
 * The expired-row purge (src/storage/purge.ts, which replaced purgeExpiredOidcPayloads) on every
 * supported database: expired challenges, email codes, oidc-provider rows and rate-limit
 * counters go, the rest stay.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Db } from '../../src/storage/db.ts';
import { KnexOidcAdapter } from '../../src/storage/oidc-adapter.ts';
import { purgeExpired, schedulePurge } from '../../src/storage/purge.ts';
import { KnexChallengeRepository } from '../../src/storage/repositories/challenges.ts';
import { KnexEmailCodeRepository } from '../../src/storage/repositories/email-codes.ts';
import { DATABASE_KINDS, openTestDatabase, type TestDatabase } from '../helpers/databases.ts';

const T0 = 1_790_000_000_000;

async function ids(db: Db, table: string, column = 'id'): Promise<string[]> {
  return (await db(table).select(column).orderBy(column)).map((r) => String(r[column]));
}

async function seed(db: Db): Promise<void> {
  const oidc = (model: string) => new KnexOidcAdapter(db, model, () => T0);
  await oidc('AccessToken').upsert('at-expired', { kind: 'AccessToken' }, 60);
  await oidc('Session').upsert('sess-expired', { kind: 'Session', uid: 'u' }, 30);
  await oidc('AccessToken').upsert('at-live', { kind: 'AccessToken' }, 3600);
  await oidc('Client').upsert('client-forever', { kind: 'Client' });

  const challenges = new KnexChallengeRepository(db);
  await challenges.insert({ challenge: 'chal-expired', purpose: 'registration', interactionUid: 'i1', context: {}, expiresAt: T0 + 10_000 });
  await challenges.insert({ challenge: 'chal-live', purpose: 'registration', interactionUid: 'i2', context: {}, expiresAt: T0 + 3_600_000 });

  const codes = new KnexEmailCodeRepository(db);
  const code = { purpose: 'signup', email: 'a@example.com', codeHash: 'h', attempts: 0, verifiedAt: null } as const;
  await codes.replace({ ...code, id: 'code-expired', interactionUid: 'i1', expiresAt: T0 + 60_000 }, T0);
  await codes.replace({ ...code, id: 'code-live', interactionUid: 'i2', expiresAt: T0 + 60_001 }, T0);

  // rate-limiter-flexible's layout: `expire` in epoch milliseconds, null for no expiry.
  await db('rate_limits').insert([
    { key: 'rl-expired', points: 3, expire: T0 + 30_000 },
    { key: 'rl-live', points: 1, expire: T0 + 90_000 },
    { key: 'rl-forever', points: 1, expire: null },
  ]);

  // Which passkey a session stands on lives as long as the session.
  await db('accounts').insert({ id: 'acc-purge', email: 'purge@example.com', email_verified: true, user_handle: 'h-purge', status: 'active', created_at: T0, updated_at: T0 });
  await db('session_passkeys').insert([
    { session_uid: 'sess-expired', account_id: 'acc-purge', passkey_id: 'pk', expires_at: T0 + 30_000 },
    { session_uid: 'sess-live', account_id: 'acc-purge', passkey_id: 'pk', expires_at: T0 + 90_000 },
  ]);
}

const NOTHING = { webauthn_challenges: 0, email_codes: 0, oidc_payloads: 0, session_passkeys: 0, rate_limits: 0 };

for (const kind of DATABASE_KINDS) {
  describe(`purgeExpired (${kind})`, () => {
    let t: TestDatabase;

    beforeEach(async () => {
      t = await openTestDatabase(kind);
      await seed(t.db);
    });
    afterEach(async () => {
      await t.close();
    });

    it('removes nothing before anything expires', async () => {
      assert.deepEqual(await purgeExpired(t.db, T0 + 9_999), NOTHING);
      assert.equal((await ids(t.db, 'oidc_payloads')).length, 4);
    });

    it('deletes exactly the expired rows of each table and says how many', async () => {
      assert.deepEqual(await purgeExpired(t.db, T0 + 60_000), { webauthn_challenges: 1, email_codes: 1, oidc_payloads: 2, session_passkeys: 1, rate_limits: 1 });
      assert.deepEqual(await ids(t.db, 'session_passkeys', 'session_uid'), ['sess-live']);
      assert.deepEqual(await ids(t.db, 'oidc_payloads'), ['at-live', 'client-forever']);
      assert.deepEqual(await ids(t.db, 'webauthn_challenges', 'challenge'), ['chal-live']);
      assert.deepEqual(await ids(t.db, 'email_codes'), ['code-live']);
      assert.deepEqual(await ids(t.db, 'rate_limits', 'key'), ['rl-forever', 'rl-live']);
      // Idempotent: a second run (or another node) finds nothing more.
      assert.deepEqual(await purgeExpired(t.db, T0 + 60_000), NOTHING);
    });

    it('purges from several nodes at once without error', async () => {
      const results = await Promise.all(Array.from({ length: 5 }, () => purgeExpired(t.db, T0 + 60_000)));
      const total = (table: string) => results.reduce((sum, r) => sum + (r[table] ?? 0), 0);
      assert.equal(total('oidc_payloads'), 2);
      assert.equal(total('webauthn_challenges'), 1);
      assert.equal(total('email_codes'), 1);
      assert.equal(total('rate_limits'), 1);
      assert.equal(total('session_passkeys'), 1);
    });
  });
}

describe('schedulePurge', () => {
  let t: TestDatabase;

  beforeEach(async () => {
    t = await openTestDatabase('sqlite');
  });
  afterEach(async () => {
    await t.close();
  });

  it('runs the purge on its interval until stopped', async () => {
    // Real time: rows that expired an hour ago are purged on the first tick.
    const past = Date.now() - 3_600_000;
    await new KnexOidcAdapter(t.db, 'AccessToken', () => past).upsert('old', { kind: 'AccessToken' }, 60);
    const results: (Record<string, number> | Error)[] = [];
    const stop = schedulePurge(t.db, 20, (result) => results.push(result));
    try {
      const deadline = Date.now() + 5_000;
      while (results.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    } finally {
      stop();
    }
    assert.ok(results.length >= 2, `ran ${results.length} times`);
    assert.deepEqual(results[0], { ...NOTHING, oidc_payloads: 1 });
    assert.deepEqual(results[1], NOTHING);
    const after = results.length;
    await new Promise((r) => setTimeout(r, 100));
    // A purge already under way may still report once; none start after stop().
    assert.ok(results.length <= after + 1);
  });

  it('reports a failure instead of throwing', async () => {
    await t.db.schema.dropTable('email_codes');
    const results: (Record<string, number> | Error)[] = [];
    const stop = schedulePurge(t.db, 10, (result) => results.push(result));
    try {
      const deadline = Date.now() + 5_000;
      while (results.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    } finally {
      stop();
    }
    assert.ok(results[0] instanceof Error, String(results[0]));
  });
});
