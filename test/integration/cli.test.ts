import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeProtectedHeader } from 'jose';
import * as oidc from 'openid-client';
import { SoftwareAuthenticator } from '../helpers/authenticator.ts';
import { startLatchkey, type TestServer } from '../helpers/app.ts';
import { finishAtApplication, openInteraction, signUp } from '../helpers/flows.ts';
import { HttpClient } from '../helpers/http.ts';
import { latchkey } from '../helpers/process.ts';
import { CLIENT_CACHE_MS } from '../../src/storage/oidc-adapter.ts';
import { authorizationRequest, redeem, REDIRECT_URI } from '../helpers/rp.ts';

describe('latchkey command-line tool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-cli-'));
  const file = join(dir, 'latchkey.sqlite3');
  const env = { DATABASE_URL: `sqlite:${file}` };
  let server: TestServer | undefined;
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints its usage, refuses unknown commands, and asks for migrations first', async () => {
    const none = await latchkey(env);
    assert.equal(none.code, 2);
    assert.match(none.stdout, /Usage: latchkey <command>/);
    const bogus = await latchkey(env, 'bogus');
    assert.equal(bogus.code, 2);
    assert.match(bogus.stderr, /unknown command "bogus"/);
    const early = await latchkey(env, 'keys', 'list');
    assert.equal(early.code, 1);
    assert.match(early.stderr, /run `latchkey migrate` first/);
    const badUrl = await latchkey({ DATABASE_URL: 'mysql://x' }, 'migrate');
    assert.equal(badUrl.code, 1);
    assert.match(badUrl.stderr, /DATABASE_URL/);
  });

  it('migrates, once', async () => {
    const first = await latchkey(env, 'migrate');
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /applied 20261122000001_core/);
    const again = await latchkey(env, 'migrate');
    assert.equal(again.code, 0);
    assert.match(again.stdout, /up to date/);
  });

  describe('with a server running on the same database', () => {
    before(async () => {
      server = await startLatchkey({ sqliteFile: file });
    });

    it('adds a client that signs people in at once, lists it without its secret, and removes it with its tokens', async () => {
      const added = await latchkey(env, 'clients', 'add', '--name', 'CLI App', '--redirect-uri', REDIRECT_URI, '--first-party', '--id', 'cli-app');
      assert.equal(added.code, 0, added.stderr);
      const { client_id, client_secret } = JSON.parse(added.stdout) as { client_id: string; client_secret: string };
      assert.equal(client_id, 'cli-app');
      assert.ok(client_secret.length >= 43);

      const rp = await oidc.discovery(new URL(server!.issuer), client_id, client_secret, undefined, { execute: [oidc.allowInsecureRequests] });
      const http = new HttpClient(server!.issuer);
      const request = await authorizationRequest(rp);
      const page = await openInteraction(http, request.url.href);
      assert.match(page.html, /CLI App/);
      const callback = await finishAtApplication(http, await signUp(http, server!, new SoftwareAuthenticator({ origin: server!.issuer }), page, 'cli@example.com'), { consent: false });
      const tokens = await redeem(rp, request, callback);
      assert.ok(tokens.access_token);

      const listed = await latchkey(env, 'clients', 'list', '--json');
      assert.equal(listed.code, 0);
      const clients = JSON.parse(listed.stdout) as Record<string, unknown>[];
      assert.deepEqual(clients.map((c) => c.client_id), ['cli-app']);
      assert.equal(clients[0]!.client_secret, undefined, 'never prints secrets');
      assert.ok(!listed.stdout.includes(client_secret));

      const duplicate = await latchkey(env, 'clients', 'add', '--redirect-uri', REDIRECT_URI, '--id', 'cli-app');
      assert.equal(duplicate.code, 1);
      const invalid = await latchkey(env, 'clients', 'add', '--redirect-uri', REDIRECT_URI, '--minimum-acr', 'bogus');
      assert.equal(invalid.code, 2);
      assert.match(invalid.stderr, /invalid client: minimum_acr must be one of/);

      const removed = await latchkey(env, 'clients', 'remove', 'cli-app');
      assert.equal(removed.code, 0, removed.stderr);
      assert.equal((await oidc.tokenIntrospection(await introspector(server!), tokens.access_token)).active, false, 'its tokens went with it');
      // Another process removed it: the server may reuse its copy of the client for this long.
      await sleep(CLIENT_CACHE_MS);
      await assert.rejects(oidc.refreshTokenGrant(rp, 'anything'), (e: Error & { error?: string }) => e.error === 'invalid_client');
      assert.equal((await latchkey(env, 'clients', 'remove', 'cli-app')).code, 1);
    });

    it('rotates, promotes and retires the signing keys; the running server follows without a restart', async () => {
      const kids = async () => ((await (await fetch(server!.url('/jwks'))).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
      const before = await kids();
      const rotated = await latchkey(env, 'keys', 'rotate');
      assert.equal(rotated.code, 0, rotated.stderr);
      const added = [...rotated.stdout.matchAll(/added next (ES256|RS256) (\S+)/g)].map((m) => m[2]!);
      assert.equal(added.length, 2);
      await server!.reloadKeys();
      assert.deepEqual(await kids(), [...before, ...added], 'published before use');

      const tooSoon = await latchkey(env, 'keys', 'promote');
      assert.equal(tooSoon.code, 1);
      assert.match(tooSoon.stderr, /--force/);
      const promoted = await latchkey(env, 'keys', 'promote', '--force');
      assert.equal(promoted.code, 0, promoted.stderr);
      await server!.reloadKeys();
      const token = await clientCredentialsIdTokenKid(server!);
      assert.equal(token, added[0], 'the promoted ES256 key signs');

      const kept = await latchkey(env, 'keys', 'retire');
      assert.equal(kept.code, 0);
      assert.match(kept.stdout, /kept ES256/);
      const retired = await latchkey(env, 'keys', 'retire', '--grace', '0');
      assert.match(retired.stdout, /retired ES256/);
      await server!.reloadKeys();
      assert.deepEqual(await kids(), added);

      const listed = JSON.parse((await latchkey(env, 'keys', 'list', '--json')).stdout) as { use: string; state: string }[];
      assert.deepEqual(listed.filter((k) => k.use === 'sig').map((k) => k.state), ['retired', 'retired', 'active', 'active']);
      assert.ok(!JSON.stringify(listed).includes('"d"'), 'no key material');
    });

    it('manages users and enrollment links through the same services as the API, audited as cli', async () => {
      // Links point at the issuer, as for the server.
      const env = { DATABASE_URL: `sqlite:${file}`, LATCHKEY_ISSUER: server!.issuer };
      const added = await latchkey(env, 'users', 'add', 'Managed.Person@Example.com', '--external-id', 'crm-42');
      assert.equal(added.code, 0, added.stderr);
      const user = JSON.parse(added.stdout) as { id: string; email: string; external_id: string; status: string };
      assert.deepEqual([user.email, user.external_id, user.status], ['managed.person@example.com', 'crm-42', 'active']);

      const listed = await latchkey(env, 'users', 'list', '--email', 'managed.person@example.com', '--json');
      assert.equal(listed.code, 0, listed.stderr);
      assert.deepEqual((JSON.parse(listed.stdout) as { id: string }[]).map((u) => u.id), [user.id]);

      const created = await latchkey(env, 'enrollments', 'create', user.id, '--expires-in', '3600');
      assert.equal(created.code, 0, created.stderr);
      const link = JSON.parse(created.stdout) as { id: string; url: string; status: string };
      assert.equal(link.status, 'created');
      assert.ok(link.url.startsWith(`${server!.issuer}/enroll/`));
      assert.equal((await fetch(link.url)).status, 200, 'the link opens on the running server');
      const revoked = await latchkey(env, 'enrollments', 'revoke', link.id);
      assert.equal(revoked.code, 0, revoked.stderr);
      assert.match(await (await fetch(link.url)).text(), /withdrawn/);

      const disabled = await latchkey(env, 'users', 'disable', user.id);
      assert.equal(disabled.code, 0, disabled.stderr);
      const enabled = await latchkey(env, 'users', 'enable', user.id);
      assert.equal(enabled.code, 0, enabled.stderr);
      const deleted = await latchkey(env, 'users', 'delete', user.id);
      assert.equal(deleted.code, 0, deleted.stderr);
      assert.equal(await server!.db('accounts').where({ id: user.id }).first(), undefined);

      // The same audit trail the API leaves, with the actor `cli`; the link's secret nowhere in it.
      const events = await server!.db('events').where({ account_id: user.id }).orderBy('seq').select('type', 'actor', 'data');
      assert.deepEqual(
        events.map((e) => [e.type, e.actor]),
        [['account.created', 'cli'], ['enrollment.created', 'cli'], ['enrollment.opened', 'user'], ['enrollment.revoked', 'cli'], ['account.disabled', 'cli'], ['account.enabled', 'cli'], ['account.deleted', 'cli']],
      );
      assert.equal(JSON.parse(String(events[0]!.data)).via, 'cli');
      const token = link.url.split('/').at(-1)!;
      assert.ok(!JSON.stringify(events).includes(token));
      for (const r of [added, listed, revoked, disabled, enabled, deleted]) assert.ok(!(r.stdout + r.stderr).includes(token), 'the URL is printed once');

      // Refusals of the domain exit 1 with its sentence.
      const again = await latchkey(env, 'users', 'delete', user.id);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /user_not_found/);
    });

    it('purges expired rows', async () => {
      await server!.db('webauthn_challenges').insert({ challenge: 'old', purpose: 'authentication', interaction_uid: 'x', expires_at: 1 });
      const purged = await latchkey(env, 'purge');
      assert.equal(purged.code, 0, purged.stderr);
      assert.match(purged.stdout, /webauthn_challenges: 1 expired rows deleted/);
    });
  });
});

/** A registered confidential client for introspection. */
async function introspector(server: TestServer): Promise<oidc.Configuration> {
  const { registerRelyingParty } = await import('../helpers/rp.ts');
  return registerRelyingParty(server);
}

/** The kid of a freshly signed ID token: a new sign-up through a new client. */
async function clientCredentialsIdTokenKid(server: TestServer): Promise<string | undefined> {
  const rp = await introspector(server);
  const http = new HttpClient(server.issuer);
  const request = await authorizationRequest(rp);
  const callback = await finishAtApplication(http, await signUp(http, server, new SoftwareAuthenticator({ origin: server.issuer }), await openInteraction(http, request.url.href), `kid-${Date.now()}@example.com`));
  const tokens = await redeem(rp, request, callback);
  return decodeProtectedHeader(tokens.id_token!).kid;
}
