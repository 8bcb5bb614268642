/**
 * The account page's repositories on every supported database: every statement is scoped to
 * one account, the last passkey survives two racing removals, and revoking an application
 * removes its grants, codes and tokens (and nobody else's).
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { NewPasskey } from '../../src/domain/passkeys/ceremonies.ts';
import type { Db } from '../../src/storage/db.ts';
import { KnexOidcAdapter } from '../../src/storage/oidc-adapter.ts';
import { KnexAccountActivity } from '../../src/storage/repositories/account-activity.ts';
import { KnexAccountPasskeyStore } from '../../src/storage/repositories/account-passkeys.ts';
import { DATABASE_KINDS, openTestDatabase, type TestDatabase } from '../helpers/databases.ts';

const NOW = 1_790_000_000_000;
const SECONDS = Math.floor(NOW / 1000);

function newPasskey(id: string): NewPasskey {
  return {
    id,
    publicKey: 'pQECAyYgASFYIA',
    counter: 0,
    transports: ['internal'],
    deviceType: 'singleDevice',
    backedUp: false,
    userVerified: true,
    aaguid: '00000000-0000-0000-0000-000000000000',
    attestationFmt: 'none',
    attestationChain: [],
  };
}

async function account(db: Db, id: string): Promise<void> {
  await db('accounts').insert({ id, email: `${id}@example.com`, email_verified: true, user_handle: `handle-${id}`, status: 'active', created_at: NOW, updated_at: NOW });
}

async function rows(db: Db, where: Record<string, unknown>): Promise<number> {
  const row = await db('oidc_payloads').where(where).count({ n: '*' }).first();
  return Number(row?.n);
}

for (const kind of DATABASE_KINDS) {
  describe(`account repositories (${kind})`, () => {
    let t: TestDatabase;

    beforeEach(async () => {
      t = await openTestDatabase(kind);
      await account(t.db, 'ada');
      await account(t.db, 'bob');
    });
    afterEach(async () => {
      await t.close();
    });

    describe('KnexAccountPasskeyStore', () => {
      it('adds, renames and removes only within the account', async () => {
        const store = new KnexAccountPasskeyStore(t.db);
        assert.equal(await store.add('ada', newPasskey('a1'), 'Phone', NOW), true);
        assert.equal(await store.add('ada', newPasskey('a2'), null, NOW), true);
        assert.equal(await store.add('bob', newPasskey('b1'), null, NOW), true);
        assert.equal(await store.add('bob', newPasskey('a1'), null, NOW), false, 'a registered credential id');
        assert.equal((await t.db('passkeys').where({ id: 'a1' }).first()).account_id, 'ada');

        assert.equal(await store.rename('ada', 'a2', 'Laptop'), true);
        assert.equal(await store.rename('ada', 'b1', 'Mine'), false);
        assert.equal((await t.db('passkeys').where({ id: 'b1' }).first('name')).name, null);

        assert.deepEqual(await store.remove('ada', 'b1', true), { outcome: 'not_found' });
        assert.deepEqual(await store.remove('ada', 'nope', true), { outcome: 'not_found' });
        const removed = await store.remove('ada', 'a2', false);
        assert.equal(removed.outcome, 'removed');
        assert.equal(removed.outcome === 'removed' && removed.passkey.name, 'Laptop');
        assert.deepEqual(await store.remove('ada', 'a1', false), { outcome: 'last' });
        assert.ok(await t.db('passkeys').where({ id: 'a1' }).first());
        assert.equal((await store.remove('ada', 'a1', true)).outcome, 'removed', 'allowed when recovery is available');
        assert.ok(await t.db('passkeys').where({ id: 'b1' }).first());
      });

      it('two racing removals never take the last passkey', async () => {
        for (let round = 0; round < 5; round++) {
          await t.db('passkeys').where({ account_id: 'ada' }).delete();
          const setup = new KnexAccountPasskeyStore(t.db);
          await setup.add('ada', newPasskey(`x${round}`), null, NOW);
          await setup.add('ada', newPasskey(`y${round}`), null, NOW);
          // Two nodes, each with its own pool.
          const [one, two] = [new KnexAccountPasskeyStore(t.connect()), new KnexAccountPasskeyStore(t.connect())];
          const outcomes = await Promise.all([one.remove('ada', `x${round}`, false), two.remove('ada', `y${round}`, false)]);
          assert.deepEqual(outcomes.map((o) => o.outcome).sort(), ['last', 'removed']);
          assert.equal(Number((await t.db('passkeys').where({ account_id: 'ada' }).count({ n: '*' }).first())?.n), 1);
        }
      });
    });

    describe('KnexAccountActivity', () => {
      const now = () => NOW;

      async function seed(db: Db) {
        const sessions = new KnexOidcAdapter(db, 'Session', now);
        await sessions.upsert('cookie-secret-1', { uid: 's1', accountId: 'ada', acr: 'phr', amr: ['pop'], loginTs: SECONDS - 60, exp: SECONDS + 3600, authorizations: { app: { grantId: 'g1' }, 'latchkey-account': {} } }, 3600);
        await sessions.upsert('cookie-secret-2', { uid: 's2', accountId: 'ada', loginTs: SECONDS - 7200 }, 1);
        await sessions.upsert('cookie-secret-3', { uid: 's3', accountId: 'bob' }, 3600);
        const grants = new KnexOidcAdapter(db, 'Grant', now);
        await grants.upsert('g1', { accountId: 'ada', clientId: 'app', openid: { scope: 'openid email' }, iat: SECONDS - 100 }, 3600);
        await grants.upsert('g2', { accountId: 'bob', clientId: 'app', openid: { scope: 'openid' }, iat: SECONDS }, 3600);
        await grants.upsert('g3', { accountId: 'ada', clientId: 'other', openid: { scope: 'openid offline_access' }, iat: SECONDS }, 3600);
        for (const [model, id, grantId, accountId] of [
          ['AccessToken', 'at1', 'g1', 'ada'],
          ['RefreshToken', 'rt1', 'g1', 'ada'],
          ['AuthorizationCode', 'ac1', 'g1', 'ada'],
          ['RefreshToken', 'rt2', 'g2', 'bob'],
          ['RefreshToken', 'rt3', 'g3', 'ada'],
        ] as const) {
          await new KnexOidcAdapter(db, model, now).upsert(id, { grantId, accountId, clientId: grantId === 'g3' ? 'other' : 'app' }, 3600);
        }
      }

      it('lists the account’s live sessions without their secret ids, and ends one of its own', async () => {
        await seed(t.db);
        const activity = new KnexAccountActivity(t.db);
        const sessions = await activity.listSessions('ada', NOW + 2000);
        assert.deepEqual(sessions, [{ uid: 's1', acr: 'phr', amr: ['pop'], authTime: SECONDS - 60, expiresAt: SECONDS + 3600, clientIds: ['app', 'latchkey-account'] }]);
        assert.ok(!JSON.stringify(sessions).includes('cookie-secret'));
        assert.equal(await activity.endSession('ada', 's3'), false, 'Bob’s session');
        assert.equal(await rows(t.db, { model: 'Session', uid: 's3' }), 1);
        assert.equal(await activity.endSession('ada', 's1'), true);
        assert.equal(await rows(t.db, { model: 'Session', uid: 's1' }), 0);
        assert.equal(await activity.endSession('ada', 's1'), false);
      });

      it('lists grants and revokes every grant, code and token of one application for one account', async () => {
        await seed(t.db);
        const activity = new KnexAccountActivity(t.db);
        const grants = await activity.listGrants('ada', NOW);
        assert.deepEqual(
          grants.sort((a, b) => a.id.localeCompare(b.id)),
          [
            { id: 'g1', clientId: 'app', scopes: ['openid', 'email'], createdAt: SECONDS - 100 },
            { id: 'g3', clientId: 'other', scopes: ['openid', 'offline_access'], createdAt: SECONDS },
          ],
        );
        assert.equal(await activity.revokeClient('ada', 'app'), 1);
        assert.equal(await rows(t.db, { grant_id: 'g1' }), 0);
        assert.equal(await rows(t.db, { model: 'Grant', id: 'g1' }), 0);
        assert.equal(await rows(t.db, { model: 'Grant', id: 'g2' }), 1, 'Bob’s grant for the same app');
        assert.equal(await rows(t.db, { grant_id: 'g2' }), 1);
        assert.equal(await rows(t.db, { grant_id: 'g3' }), 1, 'Ada’s grant for another app');
        assert.equal(await rows(t.db, { model: 'Session', uid: 's1' }), 1, 'sessions stay');
        assert.equal(await activity.revokeClient('ada', 'app'), 0);
      });
    });
  });
}
