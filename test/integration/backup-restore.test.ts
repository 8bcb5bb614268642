import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import knexFactory from 'knex';
import * as oidc from 'openid-client';
import { startLatchkey, type TestServer } from '../helpers/app.ts';
import { SoftwareAuthenticator } from '../helpers/authenticator.ts';
import { Balancer } from '../helpers/balancer.ts';
import { POSTGRES_TEST_URL } from '../helpers/databases.ts';
import { finishAtApplication, openInteraction, signInWithPasskey, signUp } from '../helpers/flows.ts';
import { HttpClient } from '../helpers/http.ts';
import { latchkey } from '../helpers/process.ts';
import { authorizationRequest, redeem, registerRelyingParty } from '../helpers/rp.ts';

/**
 * The README's backup and restore procedures, carried out: a backup taken while Latchkey
 * serves, restored into a new instance with the same issuer (behind a balancer that switches
 * from the old node to the new one), gives back the accounts, passkeys, registered clients and
 * signing keys of the moment of the backup, and nothing written after it.
 */
describe('backup and restore', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-backup-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function signUpPerson(balancer: Balancer, node: TestServer, rp: oidc.Configuration, email: string) {
    const http = new HttpClient(balancer.origin);
    const authenticator = new SoftwareAuthenticator({ origin: balancer.origin });
    const request = await authorizationRequest(rp);
    const callback = await finishAtApplication(http, await signUp(http, node, authenticator, await openInteraction(http, request.url.href), email));
    return { authenticator, sub: (await redeem(rp, request, callback)).claims()!.sub };
  }

  /** A complete passkey sign-in through the balancer; the ID token's subject. */
  async function signIn(balancer: Balancer, rp: oidc.Configuration, authenticator: SoftwareAuthenticator): Promise<string> {
    const http = new HttpClient(balancer.origin);
    const request = await authorizationRequest(rp);
    const verified = await signInWithPasskey(http, authenticator, await openInteraction(http, request.url.href));
    assert.equal(verified.status, 200, await verified.clone().text());
    const callback = await finishAtApplication(http, ((await verified.json()) as { redirectTo: string }).redirectTo);
    return (await redeem(rp, request, callback)).claims()!.sub;
  }

  /** What the restored node must have kept and dropped, whatever the database. */
  async function provesRestore(balancer: Balancer, rp: oidc.Configuration, before: { jwks: unknown; kept: Awaited<ReturnType<typeof signUpPerson>>; lost: Awaited<ReturnType<typeof signUpPerson>> }) {
    // Same signing keys: tokens issued before the restore still verify.
    assert.deepEqual(await (await fetch(`${balancer.origin}/jwks`)).json(), before.jwks);
    // The client registered before the backup, and the person and passkey, are back.
    assert.equal(await signIn(balancer, rp, before.kept.authenticator), before.kept.sub);
    // Whoever signed up after the backup is not: their passkey is unknown.
    const http = new HttpClient(balancer.origin);
    const refused = await signInWithPasskey(http, before.lost.authenticator, await openInteraction(http, (await authorizationRequest(rp)).url.href));
    assert.equal(refused.status, 400);
  }

  it('SQLite: `latchkey backup FILE` while serving, then start on the copy', async () => {
    const balancer = await Balancer.start();
    const env = { LATCHKEY_ISSUER: balancer.origin };
    const live = join(dir, 'live.sqlite3');
    const copy = join(dir, 'backup.sqlite3');
    let restored: TestServer | undefined;
    const original = await startLatchkey({ sqliteFile: live, env });
    try {
      balancer.setBackend('a', original.port);
      const rp = await registerRelyingParty(original);
      const kept = await signUpPerson(balancer, original, rp, 'kept@example.com');
      const jwks = await (await fetch(`${balancer.origin}/jwks`)).json();

      // Online: the original keeps serving (a sign-in runs during the backup).
      const [backup, during] = await Promise.all([latchkey({ DATABASE_URL: `sqlite:${live}` }, 'backup', copy), signIn(balancer, rp, kept.authenticator)]);
      assert.equal(backup.code, 0, backup.stderr);
      assert.equal(during, kept.sub);
      assert.ok(statSync(copy).size > 0);
      assert.ok(!existsSync(`${copy}-wal`), 'a self-contained file');
      const again = await latchkey({ DATABASE_URL: `sqlite:${live}` }, 'backup', copy);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /never overwrites/);

      const lost = await signUpPerson(balancer, original, rp, 'lost@example.com');
      await original.close();
      restored = await startLatchkey({ sqliteFile: copy, env });
      balancer.setBackend('a', restored.port);
      await provesRestore(balancer, rp, { jwks, kept, lost });
    } finally {
      await restored?.close();
      await balancer.close();
    }
  });

  const pgDump = (() => {
    try {
      execFileSync('pg_dump', ['--version']);
      return true;
    } catch {
      return false;
    }
  })();

  it('PostgreSQL: pg_dump -Fc -n SCHEMA, then pg_restore --clean --if-exists', { skip: pgDump ? false : 'pg_dump is not installed (Debian: postgresql-client)' }, async () => {
    const balancer = await Balancer.start();
    const env = { LATCHKEY_ISSUER: balancer.origin };
    const dump = join(dir, 'latchkey.dump');
    const original = await startLatchkey({ database: 'postgres', env });
    const schema = original.database!.url.match(/schema=([a-z0-9_]+)/)![1]!;
    const server = new URL(POSTGRES_TEST_URL);
    const pgArgs = ['-h', server.hostname, '-p', server.port || '5432', '-U', server.username || 'postgres'];
    const database = server.pathname.slice(1);
    let restored: TestServer | undefined;
    try {
      balancer.setBackend('a', original.port);
      const rp = await registerRelyingParty(original);
      const kept = await signUpPerson(balancer, original, rp, 'kept@example.com');
      const jwks = await (await fetch(`${balancer.origin}/jwks`)).json();
      execFileSync('pg_dump', [...pgArgs, '-Fc', '-n', schema, '-f', dump, database]);
      const lost = await signUpPerson(balancer, original, rp, 'lost@example.com');
      await original.close(); // stop every node (this also drops the schema: a lost database)

      execFileSync('pg_restore', [...pgArgs, '--clean', '--if-exists', '-d', database, dump]);
      const url = new URL(POSTGRES_TEST_URL);
      url.searchParams.set('schema', schema);
      restored = await startLatchkey({ env: { ...env, DATABASE_URL: url.href } });
      balancer.setBackend('a', restored.port);
      await provesRestore(balancer, rp, { jwks, kept, lost });
      const cli = await latchkey({ DATABASE_URL: url.href }, 'backup', join(dir, 'x'));
      assert.equal(cli.code, 1);
      assert.match(cli.stderr, /pg_dump/);
    } finally {
      await restored?.close();
      await balancer.close();
      const admin = knexFactory({ client: 'pg', connection: POSTGRES_TEST_URL });
      await admin.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
      await admin.destroy();
    }
  });
});
