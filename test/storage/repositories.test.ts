/**
 * The Knex repositories on every supported database: single-use records stay single-use under
 * concurrency, counters only move forward, sign-up is all or nothing, and keys are made once.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NewPasskey } from '../../src/domain/passkeys/ceremonies.ts';
import type { ChallengeRecord } from '../../src/domain/passkeys/types.ts';
import type { EmailCodeRecord } from '../../src/domain/email-codes.ts';
import type { Db } from '../../src/storage/db.ts';
import { KnexAccountRepository } from '../../src/storage/repositories/accounts.ts';
import { KnexChallengeRepository } from '../../src/storage/repositories/challenges.ts';
import { KnexEmailCodeRepository } from '../../src/storage/repositories/email-codes.ts';
import { loadOrCreateKeys } from '../../src/storage/repositories/keys.ts';
import { KnexPasskeyRepository } from '../../src/storage/repositories/passkeys.ts';
import { KnexSignupStore } from '../../src/storage/repositories/signup.ts';
import { DATABASE_KINDS, openTestDatabase, type TestDatabase } from '../helpers/databases.ts';

const NOW = 1_790_000_000_000;
const AAGUID = '00000000-0000-0000-0000-000000000000';

async function count(db: Db, table: string, where: Record<string, unknown> = {}): Promise<number> {
  const row = await db(table).where(where).count({ n: '*' }).first();
  return Number(row?.n);
}

function challenge(overrides: Partial<ChallengeRecord> = {}): ChallengeRecord {
  return {
    challenge: 'chal-1',
    purpose: 'registration',
    interactionUid: 'int-1',
    context: { userHandle: 'handle-1' },
    expiresAt: NOW + 300_000,
    ...overrides,
  };
}

function emailCode(overrides: Partial<EmailCodeRecord> = {}): EmailCodeRecord {
  return {
    id: 'code-1',
    purpose: 'signup',
    email: 'ada@example.com',
    interactionUid: 'int-1',
    codeHash: 'hash',
    attempts: 0,
    expiresAt: NOW + 600_000,
    verifiedAt: null,
    ...overrides,
  };
}

function newPasskey(overrides: Partial<NewPasskey> = {}): NewPasskey {
  return {
    id: 'cred-1',
    publicKey: 'pQECAyYgASFYIA',
    counter: 0,
    transports: ['internal', 'hybrid'],
    deviceType: 'multiDevice',
    backedUp: true,
    userVerified: true,
    aaguid: AAGUID,
    attestationFmt: 'none',
    attestationChain: [],
    ...overrides,
  };
}

for (const kind of DATABASE_KINDS) {
  describe(`storage repositories (${kind})`, () => {
    let t: TestDatabase;

    beforeEach(async () => {
      t = await openTestDatabase(kind);
    });
    afterEach(async () => {
      await t.close();
    });

    describe('KnexChallengeRepository', () => {
      it('consume returns the record once, then undefined', async () => {
        const repo = new KnexChallengeRepository(t.db);
        const record = challenge();
        await repo.insert(record);
        assert.deepEqual(await repo.consume('chal-1', 'int-1', 'registration', NOW), record);
        assert.equal(await repo.consume('chal-1', 'int-1', 'registration', NOW), undefined);
        assert.equal(await count(t.db, 'webauthn_challenges'), 0);
      });

      it('round-trips an authentication challenge with an account restriction', async () => {
        const repo = new KnexChallengeRepository(t.db);
        const record = challenge({ challenge: 'chal-auth', purpose: 'authentication', context: { accountId: 'acc-1' } });
        await repo.insert(record);
        assert.deepEqual(await repo.consume('chal-auth', 'int-1', 'authentication', NOW), record);
      });

      it('consume of an unknown challenge returns undefined and leaves other challenges', async () => {
        const repo = new KnexChallengeRepository(t.db);
        await repo.insert(challenge());
        assert.equal(await repo.consume('chal-other', 'int-1', 'registration', NOW), undefined);
        assert.equal(await count(t.db, 'webauthn_challenges'), 1);
      });

      const refusals: [string, ChallengeRecord, [string, 'registration' | 'authentication', number]][] = [
        ['the wrong interaction', challenge(), ['int-2', 'registration', NOW]],
        ['the wrong purpose', challenge(), ['int-1', 'authentication', NOW]],
        ['an expired challenge', challenge({ expiresAt: NOW + 1_000 }), ['int-1', 'registration', NOW + 1_000]],
        ['a long-expired challenge', challenge({ expiresAt: NOW - 60_000 }), ['int-1', 'registration', NOW]],
      ];
      for (const [label, record, [uid, purpose, now]] of refusals) {
        it(`consume refuses ${label} and burns the challenge`, async () => {
          const repo = new KnexChallengeRepository(t.db);
          await repo.insert(record);
          assert.equal(await repo.consume(record.challenge, uid, purpose, now), undefined);
          assert.equal(await count(t.db, 'webauthn_challenges'), 0);
          // Burnt: the right interaction and purpose cannot use it afterwards either.
          assert.equal(await repo.consume(record.challenge, record.interactionUid, record.purpose, NOW - 120_000), undefined);
        });
      }

      it('of 20 concurrent consumes, exactly one gets the record', async () => {
        const repo = new KnexChallengeRepository(t.db);
        await repo.insert(challenge({ challenge: 'chal-race' }));
        const results = await Promise.all(
          Array.from({ length: 20 }, () => new KnexChallengeRepository(t.db).consume('chal-race', 'int-1', 'registration', NOW)),
        );
        const winners = results.filter((r) => r !== undefined);
        assert.equal(winners.length, 1);
        assert.equal(winners[0]?.challenge, 'chal-race');
        assert.equal(await count(t.db, 'webauthn_challenges'), 0);
      });
    });

    describe('KnexEmailCodeRepository', () => {
      it('replace stores a code and removes the earlier one of the same interaction and purpose', async () => {
        const repo = new KnexEmailCodeRepository(t.db);
        await repo.replace(emailCode({ id: 'code-1' }), NOW);
        await repo.replace(emailCode({ id: 'code-other-purpose', purpose: 'recovery' }), NOW);
        await repo.replace(emailCode({ id: 'code-other-interaction', interactionUid: 'int-2' }), NOW);
        await repo.replace(emailCode({ id: 'code-2', email: 'grace@example.com' }), NOW + 1);
        const ids = (await t.db('email_codes').select('id').orderBy('id')).map((r) => r.id);
        assert.deepEqual(ids, ['code-2', 'code-other-interaction', 'code-other-purpose']);
        assert.deepEqual(await repo.findLatest('int-1', 'signup'), emailCode({ id: 'code-2', email: 'grace@example.com' }));
        assert.equal((await repo.findLatest('int-1', 'recovery'))?.id, 'code-other-purpose');
        assert.equal(await repo.findLatest('int-3', 'signup'), undefined);
      });

      it('countAttempt counts up to maxAttempts and then refuses', async () => {
        const repo = new KnexEmailCodeRepository(t.db);
        await repo.replace(emailCode(), NOW);
        const answers = [];
        for (let i = 0; i < 5; i++) answers.push(await repo.countAttempt('code-1', 3));
        assert.deepEqual(answers, [true, true, true, false, false]);
        assert.equal((await repo.findLatest('int-1', 'signup'))?.attempts, 3);
        assert.equal(await repo.countAttempt('unknown', 3), false);
      });

      it('countAttempt stops at maxAttempts under 20 concurrent calls', async () => {
        const repo = new KnexEmailCodeRepository(t.db);
        await repo.replace(emailCode(), NOW);
        const answers = await Promise.all(Array.from({ length: 20 }, () => new KnexEmailCodeRepository(t.db).countAttempt('code-1', 5)));
        assert.equal(answers.filter(Boolean).length, 5);
        assert.equal((await repo.findLatest('int-1', 'signup'))?.attempts, 5);
      });

      it('markVerified records the time', async () => {
        const repo = new KnexEmailCodeRepository(t.db);
        await repo.replace(emailCode(), NOW);
        await repo.markVerified('code-1', NOW + 5_000);
        assert.equal((await repo.findLatest('int-1', 'signup'))?.verifiedAt, NOW + 5_000);
      });
    });

    describe('KnexPasskeyRepository', () => {
      async function seed(): Promise<void> {
        const store = new KnexSignupStore(t.db);
        await new KnexEmailCodeRepository(t.db).replace(emailCode({ verifiedAt: NOW }), NOW);
        const account = await store.complete('code-1', { id: 'acc-1', email: 'ada@example.com', userHandle: 'handle-1' }, newPasskey({ counter: 10 }), NOW);
        assert.ok(account);
      }

      it('recordUse moves the counter forward and records the use', async () => {
        await seed();
        const repo = new KnexPasskeyRepository(t.db);
        await repo.recordUse('cred-1', { counter: 11, backedUp: false, usedAt: NOW + 1_000 });
        const passkey = await repo.findById('cred-1');
        assert.equal(passkey?.counter, 11);
        assert.equal(passkey?.backedUp, false);
        assert.equal(passkey?.lastUsedAt, NOW + 1_000);
      });

      it('recordUse never lowers the counter', async () => {
        await seed();
        const repo = new KnexPasskeyRepository(t.db);
        await repo.recordUse('cred-1', { counter: 42, backedUp: true, usedAt: NOW + 1_000 });
        await repo.recordUse('cred-1', { counter: 7, backedUp: true, usedAt: NOW + 2_000 });
        await repo.recordUse('cred-1', { counter: 0, backedUp: true, usedAt: NOW + 3_000 });
        const passkey = await repo.findById('cred-1');
        assert.equal(passkey?.counter, 42);
        assert.equal(passkey?.lastUsedAt, NOW + 3_000);
      });

      it('recordUse keeps the highest counter when uses race', async () => {
        await seed();
        const counters = [15, 99, 20, 57, 11, 98, 12, 13];
        await Promise.all(counters.map((counter, i) => new KnexPasskeyRepository(t.db).recordUse('cred-1', { counter, backedUp: true, usedAt: NOW + i })));
        assert.equal((await new KnexPasskeyRepository(t.db).findById('cred-1'))?.counter, 99);
      });

      it('stores the attestation format and certificate chain', async () => {
        await new KnexEmailCodeRepository(t.db).replace(emailCode({ verifiedAt: NOW }), NOW);
        const passkey = newPasskey({ id: 'cred-att', attestationFmt: 'packed', attestationChain: ['MIIBleaf', 'MIIBintermediate'] });
        assert.ok(await new KnexSignupStore(t.db).complete('code-1', { id: 'acc-1', email: 'ada@example.com', userHandle: 'handle-1' }, passkey, NOW));
        assert.deepEqual((await new KnexPasskeyRepository(t.db).findById('cred-att'))?.attestationChain, ['MIIBleaf', 'MIIBintermediate']);
        const row = await t.db('passkeys').where({ id: 'cred-att' }).first('attestation_fmt');
        assert.equal(row?.attestation_fmt, 'packed');
      });

      it('reads back what sign-up stored', async () => {
        await seed();
        const repo = new KnexPasskeyRepository(t.db);
        assert.deepEqual(await repo.findById('cred-1'), {
          id: 'cred-1',
          accountId: 'acc-1',
          publicKey: 'pQECAyYgASFYIA',
          counter: 10,
          transports: ['internal', 'hybrid'],
          deviceType: 'multiDevice',
          backedUp: true,
          userVerified: true,
          aaguid: AAGUID,
          attestationChain: [],
          name: null,
          createdAt: NOW,
          lastUsedAt: null,
        });
        assert.deepEqual((await repo.listByAccount('acc-1')).map((p) => p.id), ['cred-1']);
        assert.deepEqual(await repo.listByAccount('acc-2'), []);
        assert.equal(await repo.findById('cred-2'), undefined);
      });
    });

    describe('KnexSignupStore.complete', () => {
      const codes = () => new KnexEmailCodeRepository(t.db);
      const store = () => new KnexSignupStore(t.db);

      it('creates the account and its passkey and uses up the email proof', async () => {
        await codes().replace(emailCode({ verifiedAt: NOW }), NOW);
        const account = await store().complete('code-1', { id: 'acc-1', email: 'ada@example.com', userHandle: 'handle-1' }, newPasskey(), NOW + 10);
        assert.deepEqual(account, {
          id: 'acc-1',
          email: 'ada@example.com',
          emailVerified: true,
          name: null,
          userHandle: 'handle-1',
          status: 'active',
          createdAt: NOW + 10,
        });
        assert.deepEqual(await new KnexAccountRepository(t.db).findByEmail('ada@example.com'), account);
        assert.deepEqual(await new KnexAccountRepository(t.db).findById('acc-1'), account);
        const passkey = await new KnexPasskeyRepository(t.db).findById('cred-1');
        assert.equal(passkey?.accountId, 'acc-1');
        assert.equal(passkey?.createdAt, NOW + 10);
        assert.equal(await count(t.db, 'email_codes'), 0);
      });

      it('a second completion with the same email proof returns undefined and writes nothing', async () => {
        await codes().replace(emailCode({ verifiedAt: NOW }), NOW);
        assert.ok(await store().complete('code-1', { id: 'acc-1', email: 'ada@example.com', userHandle: 'handle-1' }, newPasskey(), NOW));
        const again = await store().complete('code-1', { id: 'acc-2', email: 'ada@example.com', userHandle: 'handle-2' }, newPasskey({ id: 'cred-2' }), NOW);
        assert.equal(again, undefined);
        assert.equal(await count(t.db, 'accounts'), 1);
        assert.equal(await count(t.db, 'passkeys'), 1);
        assert.equal(await count(t.db, 'passkeys', { id: 'cred-2' }), 0);
      });

      it('concurrent completions of one proof create one account', async () => {
        await codes().replace(emailCode({ verifiedAt: NOW }), NOW);
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            store().complete('code-1', { id: `acc-${i}`, email: 'ada@example.com', userHandle: `handle-${i}` }, newPasskey({ id: `cred-${i}` }), NOW),
          ),
        );
        assert.equal(results.filter((r) => r !== undefined).length, 1);
        assert.equal(await count(t.db, 'accounts'), 1);
        assert.equal(await count(t.db, 'passkeys'), 1);
      });

      it('refuses an email proof that was never verified, changing nothing', async () => {
        await codes().replace(emailCode({ verifiedAt: null }), NOW);
        const result = await store().complete('code-1', { id: 'acc-1', email: 'ada@example.com', userHandle: 'handle-1' }, newPasskey(), NOW);
        assert.equal(result, undefined);
        assert.equal(await count(t.db, 'accounts'), 0);
        assert.equal(await count(t.db, 'passkeys'), 0);
        assert.equal(await count(t.db, 'email_codes'), 1);
      });

      it('refuses an email that is already taken and leaves no passkey row', async () => {
        await codes().replace(emailCode({ id: 'code-1', interactionUid: 'int-1', verifiedAt: NOW }), NOW);
        await codes().replace(emailCode({ id: 'code-2', interactionUid: 'int-2', verifiedAt: NOW }), NOW);
        assert.ok(await store().complete('code-1', { id: 'acc-1', email: 'ada@example.com', userHandle: 'handle-1' }, newPasskey({ id: 'cred-1' }), NOW));

        const second = await store().complete('code-2', { id: 'acc-2', email: 'ada@example.com', userHandle: 'handle-2' }, newPasskey({ id: 'cred-2' }), NOW);
        assert.equal(second, undefined);
        assert.equal(await count(t.db, 'accounts'), 1);
        assert.equal(await count(t.db, 'passkeys', { id: 'cred-2' }), 0);
        assert.equal(await count(t.db, 'passkeys', { account_id: 'acc-2' }), 0);
        // All or nothing: the refused attempt did not use up its proof either.
        assert.equal(await count(t.db, 'email_codes', { id: 'code-2' }), 1);
      });

      it('refuses a credential that is already registered, rolling the account back', async () => {
        await codes().replace(emailCode({ id: 'code-1', interactionUid: 'int-1', verifiedAt: NOW }), NOW);
        await codes().replace(emailCode({ id: 'code-2', interactionUid: 'int-2', email: 'grace@example.com', verifiedAt: NOW }), NOW);
        assert.ok(await store().complete('code-1', { id: 'acc-1', email: 'ada@example.com', userHandle: 'handle-1' }, newPasskey({ id: 'cred-1' }), NOW));

        const second = await store().complete('code-2', { id: 'acc-2', email: 'grace@example.com', userHandle: 'handle-2' }, newPasskey({ id: 'cred-1' }), NOW);
        assert.equal(second, undefined);
        assert.equal(await new KnexAccountRepository(t.db).findByEmail('grace@example.com'), undefined);
        assert.equal(await count(t.db, 'accounts'), 1);
        assert.equal((await new KnexPasskeyRepository(t.db).findById('cred-1'))?.accountId, 'acc-1');
        assert.equal(await count(t.db, 'email_codes', { id: 'code-2' }), 1);
      });
    });

    describe('loadOrCreateKeys', () => {
      it('creates an ES256 and an RS256 signing key and a cookie key on first start', async () => {
        const keys = await loadOrCreateKeys(t.db, NOW);
        assert.deepEqual(keys.jwks.keys.map((k) => k.alg), ['ES256', 'RS256']);
        const [es, rs] = keys.jwks.keys;
        assert.equal(es?.kty, 'EC');
        assert.equal(es?.crv, 'P-256');
        assert.equal(rs?.kty, 'RSA');
        for (const key of keys.jwks.keys) {
          assert.equal(key.use, 'sig');
          assert.equal(typeof key.kid, 'string');
          assert.equal(typeof key.d, 'string', 'private key material');
        }
        assert.notEqual(es?.kid, rs?.kid);
        assert.equal(keys.cookieKeys.length, 1);
        assert.ok(Buffer.from(keys.cookieKeys[0] ?? '', 'base64url').length >= 32);

        const rows = await t.db('signing_keys').orderBy('use').orderBy('alg');
        assert.equal(rows.length, 3);
        assert.deepEqual(
          rows.map((r) => [r.use, r.alg ?? null, r.state]),
          [
            ['cookie', null, 'active'],
            ['sig', 'ES256', 'active'],
            ['sig', 'RS256', 'active'],
          ],
        );
      });

      it('returns the same keys on the next start and creates no rows', async () => {
        const first = await loadOrCreateKeys(t.db, NOW);
        const second = await loadOrCreateKeys(t.db, NOW + 86_400_000);
        assert.deepEqual(second.jwks.keys.map((k) => k.kid), first.jwks.keys.map((k) => k.kid));
        assert.deepEqual(second.jwks.keys, first.jwks.keys);
        assert.deepEqual(second.cookieKeys, first.cookieKeys);
        assert.equal(second.version, first.version);
        assert.equal(second.derivationSecret, first.derivationSecret);
        assert.equal(second.jwks.keys[0]?.alg, 'ES256');
        assert.equal(await count(t.db, 'signing_keys'), 3);
      });

      it('nodes starting together agree on one set of keys', async () => {
        // PostgreSQL: one pool per node. SQLite serves one node through its one connection, so
        // there the racing calls share it (each must still see the others' keys).
        const nodes = Array.from({ length: 8 }, () => (kind === 'postgres' ? t.connect() : t.db));
        const results = await Promise.all(nodes.map((db) => loadOrCreateKeys(db, NOW)));
        const kids = results.map((r) => r.jwks.keys.map((k) => k.kid).join(','));
        assert.equal(new Set(kids).size, 1);
        assert.equal(new Set(results.map((r) => r.cookieKeys.join(','))).size, 1);
        assert.equal(await count(t.db, 'signing_keys'), 3);
      });
    });
  });
}
