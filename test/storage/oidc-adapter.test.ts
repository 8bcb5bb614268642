/**
 * Contract of the oidc-provider adapter, run against every supported database: what is stored
 * comes back unchanged, expiry and consumption behave as oidc-provider expects, and a code can
 * be consumed once even when many requests race for it.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AdapterPayload } from 'oidc-provider';
import { CLIENT_CACHE_MS, findGrantId, KnexOidcAdapter } from '../../src/storage/oidc-adapter.ts';
import { DATABASE_KINDS, openTestDatabase, type TestDatabase } from '../helpers/databases.ts';

const T0 = 1_790_000_000_000; // ms

/** A clock the test moves by hand. */
function manualClock(start = T0) {
  let current = start;
  return {
    now: () => current,
    set(ms: number) {
      current = ms;
    },
    advance(ms: number) {
      current += ms;
    },
  };
}

function isInvalidGrant(error: unknown): boolean {
  return (error as { error?: unknown } | null)?.error === 'invalid_grant';
}

for (const kind of DATABASE_KINDS) {
  describe(`KnexOidcAdapter (${kind})`, () => {
    let t: TestDatabase;
    let clock: ReturnType<typeof manualClock>;
    const adapter = (model: string) => new KnexOidcAdapter(t.db, model, clock.now);

    beforeEach(async () => {
      t = await openTestDatabase(kind);
      clock = manualClock();
    });
    afterEach(async () => {
      await t.close();
    });

    it('find returns what upsert stored, deeply equal', async () => {
      const payload: AdapterPayload = {
        iat: 1_790_000_000,
        exp: 1_790_000_600,
        accountId: 'acc-1',
        clientId: 'client-1',
        grantId: 'grant-1',
        scope: 'openid email',
        claims: { id_token: { email: null } },
        nonce: 'n-ü-€-\u{1F511}',
        kind: 'AuthorizationCode',
        jti: 'code-1',
      };
      await adapter('AuthorizationCode').upsert('code-1', payload, 600);
      assert.deepEqual(await adapter('AuthorizationCode').find('code-1'), payload);
    });

    it('stores a payload without expiry and it never expires', async () => {
      const payload: AdapterPayload = { kind: 'Client', clientId: 'client-1' };
      await adapter('Client').upsert('client-1', payload);
      clock.advance(100 * 365 * 24 * 3600 * 1000);
      assert.deepEqual(await adapter('Client').find('client-1'), payload);
    });

    it('find of an unknown id returns undefined', async () => {
      assert.equal(await adapter('AccessToken').find('nope'), undefined);
    });

    it('keeps models apart: the same id under another model is another row', async () => {
      await adapter('AccessToken').upsert('same-id', { kind: 'AccessToken', jti: 'same-id' }, 60);
      await adapter('RefreshToken').upsert('same-id', { kind: 'RefreshToken', jti: 'same-id' }, 60);
      assert.equal((await adapter('AccessToken').find('same-id'))?.kind, 'AccessToken');
      assert.equal((await adapter('RefreshToken').find('same-id'))?.kind, 'RefreshToken');
      assert.equal(await adapter('AuthorizationCode').find('same-id'), undefined);
      await adapter('AccessToken').destroy('same-id');
      assert.equal(await adapter('AccessToken').find('same-id'), undefined);
      assert.equal((await adapter('RefreshToken').find('same-id'))?.kind, 'RefreshToken');
    });

    it('upsert overwrites the payload, lookup columns and expiry of an existing id', async () => {
      const a = adapter('Session');
      await a.upsert('sess-1', { kind: 'Session', uid: 'uid-old', accountId: 'acc-1' }, 60);
      await a.upsert('sess-1', { kind: 'Session', uid: 'uid-new', accountId: 'acc-2' }, 3600);
      assert.deepEqual(await a.find('sess-1'), { kind: 'Session', uid: 'uid-new', accountId: 'acc-2' });
      assert.equal(await a.findByUid('uid-old'), undefined);
      assert.equal((await a.findByUid('uid-new'))?.accountId, 'acc-2');
      // The new, longer lifetime applies.
      clock.advance(120_000);
      assert.notEqual(await a.find('sess-1'), undefined);
      const rows = await t.db('oidc_payloads').where({ model: 'Session' });
      assert.equal(rows.length, 1);
    });

    it('find returns undefined once the payload has expired', async () => {
      const a = adapter('AccessToken');
      await a.upsert('at-1', { kind: 'AccessToken', jti: 'at-1' }, 60);
      clock.advance(59_999);
      assert.notEqual(await a.find('at-1'), undefined);
      clock.advance(1); // exactly at expiry
      assert.equal(await a.find('at-1'), undefined);
      clock.advance(3_600_000);
      assert.equal(await a.find('at-1'), undefined);
    });

    it('expiry is computed from the injected clock, in milliseconds', async () => {
      await adapter('AccessToken').upsert('at-1', { kind: 'AccessToken' }, 60);
      const row = await t.db('oidc_payloads').where({ model: 'AccessToken', id: 'at-1' }).first('expires_at');
      assert.equal(Number(row.expires_at), T0 + 60_000);
    });

    it('findByUid finds a session by its uid, and not after expiry', async () => {
      const a = adapter('Session');
      await a.upsert('sess-1', { kind: 'Session', uid: 'uid-1', accountId: 'acc-1' }, 60);
      await a.upsert('sess-2', { kind: 'Session', uid: 'uid-2', accountId: 'acc-2' }, 60);
      assert.deepEqual(await a.findByUid('uid-1'), { kind: 'Session', uid: 'uid-1', accountId: 'acc-1' });
      assert.equal((await a.findByUid('uid-2'))?.accountId, 'acc-2');
      assert.equal(await a.findByUid('uid-3'), undefined);
      // Only the adapter's own model is searched.
      assert.equal(await adapter('Interaction').findByUid('uid-1'), undefined);
      clock.advance(60_000);
      assert.equal(await a.findByUid('uid-1'), undefined);
    });

    it('findByUserCode finds a device code by its user code', async () => {
      const a = adapter('DeviceCode');
      await a.upsert('dc-1', { kind: 'DeviceCode', userCode: 'ABCD-EFGH', clientId: 'c' }, 600);
      assert.deepEqual(await a.findByUserCode('ABCD-EFGH'), { kind: 'DeviceCode', userCode: 'ABCD-EFGH', clientId: 'c' });
      assert.equal(await a.findByUserCode('ZZZZ-ZZZZ'), undefined);
      assert.equal(await adapter('AccessToken').findByUserCode('ABCD-EFGH'), undefined);
    });

    it('destroy removes the row', async () => {
      const a = adapter('Interaction');
      await a.upsert('int-1', { kind: 'Interaction' }, 60);
      await a.upsert('int-2', { kind: 'Interaction' }, 60);
      await a.destroy('int-1');
      assert.equal(await a.find('int-1'), undefined);
      assert.notEqual(await a.find('int-2'), undefined);
      const ids = (await t.db('oidc_payloads').select('id')).map((r) => r.id);
      assert.deepEqual(ids, ['int-2']);
      // Destroying what is not there is not an error.
      await a.destroy('int-1');
    });

    it('revokeByGrantId removes the rows of every model with that grant, and only those', async () => {
      await adapter('AuthorizationCode').upsert('code-1', { kind: 'AuthorizationCode', grantId: 'g1' }, 60);
      await adapter('AccessToken').upsert('at-1', { kind: 'AccessToken', grantId: 'g1' }, 60);
      await adapter('RefreshToken').upsert('rt-1', { kind: 'RefreshToken', grantId: 'g1' }, 60);
      await adapter('AccessToken').upsert('at-2', { kind: 'AccessToken', grantId: 'g2' }, 60);
      await adapter('Session').upsert('sess-1', { kind: 'Session', uid: 'u' }, 60);

      // Called on one model, as oidc-provider does, it still takes the grant's other models.
      await adapter('AccessToken').revokeByGrantId('g1');

      assert.equal(await adapter('AuthorizationCode').find('code-1'), undefined);
      assert.equal(await adapter('AccessToken').find('at-1'), undefined);
      assert.equal(await adapter('RefreshToken').find('rt-1'), undefined);
      assert.notEqual(await adapter('AccessToken').find('at-2'), undefined);
      assert.notEqual(await adapter('Session').find('sess-1'), undefined);
      const left = (await t.db('oidc_payloads').select('id').orderBy('id')).map((r) => r.id);
      assert.deepEqual(left, ['at-2', 'sess-1']);
    });

    it('consume marks the payload consumed (epoch seconds) and keeps the rest of it', async () => {
      const a = adapter('AuthorizationCode');
      await a.upsert('code-1', { kind: 'AuthorizationCode', grantId: 'g1' }, 60);
      assert.equal((await a.find('code-1'))?.consumed, undefined);
      clock.advance(1_500);
      await a.consume('code-1');
      assert.deepEqual(await a.find('code-1'), {
        kind: 'AuthorizationCode',
        grantId: 'g1',
        consumed: Math.floor((T0 + 1_500) / 1000),
      });
    });

    it('a second consume fails with invalid_grant', async () => {
      const a = adapter('AuthorizationCode');
      await a.upsert('code-1', { kind: 'AuthorizationCode' }, 60);
      await a.consume('code-1');
      await assert.rejects(a.consume('code-1'), (error) => isInvalidGrant(error));
      // The first consumption time stays.
      assert.equal((await a.find('code-1'))?.consumed, Math.floor(T0 / 1000));
    });

    it('consume of an unknown id fails with invalid_grant', async () => {
      await assert.rejects(adapter('AuthorizationCode').consume('nope'), (error) => isInvalidGrant(error));
    });

    it('consume only touches its own model', async () => {
      await adapter('AuthorizationCode').upsert('x', { kind: 'AuthorizationCode' }, 60);
      await adapter('RefreshToken').upsert('x', { kind: 'RefreshToken' }, 60);
      await adapter('AuthorizationCode').consume('x');
      assert.equal((await adapter('RefreshToken').find('x'))?.consumed, undefined);
      await adapter('RefreshToken').consume('x');
      assert.notEqual((await adapter('RefreshToken').find('x'))?.consumed, undefined);
    });

    it('of 50 concurrent consumes of one code, exactly one succeeds', async () => {
      await adapter('AuthorizationCode').upsert('code-race', { kind: 'AuthorizationCode' }, 60);
      // Separate adapter instances, as separate requests would have.
      const results = await Promise.allSettled(Array.from({ length: 50 }, () => adapter('AuthorizationCode').consume('code-race')));
      const fulfilled = results.filter((r) => r.status === 'fulfilled');
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(fulfilled.length, 1);
      assert.equal(rejected.length, 49);
      for (const r of rejected) assert.ok(isInvalidGrant(r.reason), String(r.reason));
      assert.notEqual((await adapter('AuthorizationCode').find('code-race'))?.consumed, undefined);
    });

    it('keeps a client it read for CLIENT_CACHE_MS, forgets it on upsert or destroy, and caches nothing else', async () => {
      await adapter('Client').upsert('cached', { client_id: 'cached', client_name: 'One' });
      assert.equal((await adapter('Client').find('cached'))?.client_name, 'One');
      const changeElsewhere = (name: string) => t.db('oidc_payloads').where({ model: 'Client', id: 'cached' }).update({ payload: JSON.stringify({ client_id: 'cached', client_name: name }) });
      await changeElsewhere('Two'); // as another node would
      assert.equal((await adapter('Client').find('cached'))?.client_name, 'One');
      clock.advance(CLIENT_CACHE_MS);
      assert.equal((await adapter('Client').find('cached'))?.client_name, 'Two');
      await adapter('Client').upsert('cached', { client_id: 'cached', client_name: 'Three' });
      assert.equal((await adapter('Client').find('cached'))?.client_name, 'Three');
      await adapter('Client').destroy('cached');
      assert.equal(await adapter('Client').find('cached'), undefined);
      // Unknown clients are not remembered: one registered on another node is found at once.
      await t.db('oidc_payloads').insert({ model: 'Client', id: 'cached', payload: JSON.stringify({ client_id: 'cached' }) });
      assert.notEqual(await adapter('Client').find('cached'), undefined);
      // Other models are read afresh every time.
      await adapter('Session').upsert('s', { kind: 'Session', accountId: 'a' }, 60);
      await t.db('oidc_payloads').where({ model: 'Session', id: 's' }).delete();
      assert.equal(await adapter('Session').find('s'), undefined);
    });

    describe('findGrantId', () => {
      it('finds the newest unexpired grant of an account for a client', async () => {
        const grants = adapter('Grant');
        await grants.upsert('grant-old', { kind: 'Grant', accountId: 'acc-1', clientId: 'client-1' }, 3600);
        clock.advance(10_000);
        await grants.upsert('grant-new', { kind: 'Grant', accountId: 'acc-1', clientId: 'client-1' }, 3600);
        await grants.upsert('grant-other-client', { kind: 'Grant', accountId: 'acc-1', clientId: 'client-2' }, 7200);
        await grants.upsert('grant-other-account', { kind: 'Grant', accountId: 'acc-2', clientId: 'client-1' }, 7200);
        // Not a Grant, though it carries the same account and client.
        await adapter('AccessToken').upsert('at-1', { kind: 'AccessToken', accountId: 'acc-1', clientId: 'client-1' }, 9000);

        assert.equal(await findGrantId(t.db, 'acc-1', 'client-1', clock.now()), 'grant-new');
        assert.equal(await findGrantId(t.db, 'acc-1', 'client-2', clock.now()), 'grant-other-client');
        assert.equal(await findGrantId(t.db, 'acc-2', 'client-1', clock.now()), 'grant-other-account');
        assert.equal(await findGrantId(t.db, 'acc-3', 'client-1', clock.now()), undefined);
        assert.equal(await findGrantId(t.db, 'acc-2', 'client-2', clock.now()), undefined);
      });

      it('skips expired grants', async () => {
        const grants = adapter('Grant');
        await grants.upsert('grant-short', { kind: 'Grant', accountId: 'acc-1', clientId: 'client-1' }, 60);
        await grants.upsert('grant-long', { kind: 'Grant', accountId: 'acc-1', clientId: 'client-1' }, 120);
        assert.equal(await findGrantId(t.db, 'acc-1', 'client-1', T0), 'grant-long');
        await grants.destroy('grant-long');
        assert.equal(await findGrantId(t.db, 'acc-1', 'client-1', T0 + 59_999), 'grant-short');
        assert.equal(await findGrantId(t.db, 'acc-1', 'client-1', T0 + 60_000), undefined);
      });
    });
  });
}

describe('KnexOidcAdapter lookups use the partial indexes (sqlite)', () => {
  // An index that stops matching its lookup turns every token request into a table scan,
  // which no functional test would notice.
  const LOOKUPS: ReadonlyArray<readonly [sql: string, index: string]> = [
    ["SELECT payload FROM oidc_payloads WHERE model = 'Session' AND uid = 'u'", 'oidc_payloads_uid_index'],
    ["SELECT payload FROM oidc_payloads WHERE model = 'DeviceCode' AND user_code = 'c'", 'oidc_payloads_user_code_index'],
    ["DELETE FROM oidc_payloads WHERE grant_id = 'g'", 'oidc_payloads_grant_id_index'],
    ["SELECT id FROM oidc_payloads WHERE model = 'Grant' AND account_id = 'a' AND client_id = 'c'", 'oidc_payloads_account_id_model_index'],
  ];
  for (const [sql, index] of LOOKUPS) {
    it(`${sql.split(' WHERE ')[1]} → ${index}`, async () => {
      const t = await openTestDatabase('sqlite');
      try {
        const plan = (await t.db.raw(`EXPLAIN QUERY PLAN ${sql}`)) as { detail: string }[];
        assert.ok(plan.some((step) => step.detail.includes(index)), JSON.stringify(plan));
      } finally {
        await t.close();
      }
    });
  }
});
