/**
 * Faults: the database locked or gone (a clear 503 / server_error, never a success that was
 * not stored), a process killed in the middle of a sign-up (no usable half-account), and a
 * restart (sessions, refresh tokens and keys survive).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type * as oidc from 'openid-client';
import { SoftwareAuthenticator } from '../helpers/authenticator.ts';
import { startLatchkey, type TestServer } from '../helpers/app.ts';
import { finishAtApplication, openInteraction, postForm, postJson, signInWithPasskey, signUp, type PageState } from '../helpers/flows.ts';
import { HttpClient } from '../helpers/http.ts';
import { freePort, launchLatchkey } from '../helpers/process.ts';
import { authorizationRequest, redeem, registerRelyingParty, REDIRECT_URI } from '../helpers/rp.ts';
import { openDatabase, type Db } from '../../src/storage/db.ts';

async function count(db: Db, table: string, where: Record<string, unknown> = {}): Promise<number> {
  return Number((await db(table).where(where).count({ n: '*' }))[0]!.n);
}

/** A browser that proved `email` for sign-up and holds a good new credential, not yet sent. */
async function readyToRegister(server: TestServer, rp: oidc.Configuration, email: string) {
  const http = new HttpClient(server.issuer);
  const page = await openInteraction(http, (await authorizationRequest(rp)).url.href);
  assert.equal((await postForm(http, page, '/signup', { email })).status, 303);
  assert.equal((await postForm(http, page, '/signup/code', { code: server.mailbox.lastCode(email) })).status, 303);
  const options = await postJson(http, page, '/signup/passkey/options', {});
  assert.equal(options.status, 200);
  const authenticator = new SoftwareAuthenticator({ origin: server.issuer });
  return { http, page, authenticator, credential: authenticator.createCredential(await options.json()) };
}

async function expectUnavailable(response: Response, label: string): Promise<void> {
  assert.equal(response.status, 503, `${label}: ${response.status}`);
  assert.equal(response.headers.get('retry-after'), '5', label);
  assert.equal(response.headers.get('location'), null, label);
  const text = await response.text();
  assert.match(text, /database_unavailable/, label);
  assert.doesNotMatch(text, /SQLITE|knex|at .*\.ts:\d+/, `${label}: no internals`);
}

/** oidc-provider's endpoints answer a storage failure as a temporary server_error (503, Retry-After), and never redirect with a code. */
async function expectServerError(response: Response, label: string): Promise<void> {
  assert.equal(response.status, 503, `${label}: ${response.status}`);
  assert.equal(response.headers.get('retry-after'), '5', label);
  assert.equal(response.headers.get('location'), null, label);
  const text = await response.text();
  assert.match(text, /server_error/, label);
  assert.doesNotMatch(text, /SQLITE|knex/, `${label}: no internals`);
}

describe('a locked database', () => {
  let server: TestServer;
  let rp: oidc.Configuration;
  let locker: Db;

  before(async () => {
    server = await startLatchkey({ database: 'sqlite' });
    rp = await registerRelyingParty(server);
    // Latchkey waits 5 s for a lock; the test waits 200 ms (the same single pooled connection).
    await server.db.raw('PRAGMA busy_timeout = 200');
    const { filename } = server.config.database as { filename: string };
    locker = openDatabase({ client: 'sqlite', filename });
  });
  after(async () => {
    await locker.destroy();
    await server.close();
  });

  it('answers 503 while another process holds the write lock, stores nothing half-way, and works once it is released', async () => {
    const { http, page, credential } = await readyToRegister(server, rp, 'locked@example.com');
    // A code issued before the lock, to redeem while locked.
    const codeFlow = await readyToRegister(server, rp, 'code@example.com');
    const created = await postJson(codeFlow.http, codeFlow.page, '/signup/passkey/verify', codeFlow.credential);
    const callback = await finishAtApplication(codeFlow.http, ((await created.json()) as { redirectTo: string }).redirectTo);
    const codeRequest = { url: new URL(server.issuer), verifier: '', state: '', nonce: '' };
    void codeRequest;

    const mails = server.mailbox.sent.length;
    const accounts = await count(server.db, 'accounts');
    await locker.raw('BEGIN EXCLUSIVE');
    try {
      await expectUnavailable(await postJson(http, page, '/signup/passkey/verify', credential), 'completing a sign-up');
      const other = new HttpClient(server.issuer);
      const otherPage = await openInteraction(other, (await authorizationRequest(rp)).url.href).catch(() => undefined);
      assert.equal(otherPage, undefined, 'a new authorization request cannot be stored either');
      const auth = await other.get((await authorizationRequest(rp)).url.href);
      await expectServerError(auth, 'the authorization endpoint');
      await expectUnavailable(await postForm(http, page, '/signup', { email: 'another@example.com' }), 'sending a code');
      await expectUnavailable(await postJson(http, page, '/passkey/options', {}), 'ceremony options');
      assert.equal(server.mailbox.sent.length, mails, 'no mail for a code that was not stored');
    } finally {
      await locker.raw('COMMIT');
    }
    assert.equal(await count(server.db, 'accounts'), accounts, 'nothing was written while locked');
    // The same credential now goes through: its challenge was not used up by the failed try.
    const retried = await postJson(http, page, '/signup/passkey/verify', credential);
    assert.equal(retried.status, 200);
    assert.ok(await server.db('accounts').where({ email: 'locked@example.com' }).first());
    void callback;
  });

  it('the token endpoint answers server_error while locked, and the code it could not use up still works once', async () => {
    const request = await authorizationRequest(rp);
    const http = new HttpClient(server.issuer);
    const authenticator = new SoftwareAuthenticator({ origin: server.issuer });
    const callback = await finishAtApplication(http, await signUp(http, server, authenticator, await openInteraction(http, request.url.href), 'token@example.com'));
    const code = new URL(callback).searchParams.get('code')!;
    const { client_id, client_secret } = rp.clientMetadata();
    await locker.raw('BEGIN EXCLUSIVE');
    try {
      const token = await fetch(server.url('/token'), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${client_id}:${client_secret}`).toString('base64')}` },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: request.verifier }),
      });
      assert.equal(token.status, 503);
      assert.equal(token.headers.get('retry-after'), '5');
      const body = (await token.json()) as { error: string; access_token?: string };
      assert.equal(body.error, 'server_error');
      assert.equal(body.access_token, undefined);
    } finally {
      await locker.raw('COMMIT');
    }
    const tokens = await redeem(rp, request, callback);
    assert.ok(tokens.access_token, 'redeemed once the database is back');
    await assert.rejects(redeem(rp, request, callback), (e: Error & { error?: string }) => e.error === 'invalid_grant', 'and only once');
  });
});

describe('an unreachable database', () => {
  it('answers 503 (Latchkey) or server_error (OAuth), and /readyz says why', async () => {
    const server = await startLatchkey({ database: 'sqlite' });
    try {
      const rp = await registerRelyingParty(server);
      const { http, page, credential } = await readyToRegister(server, rp, 'gone@example.com');
      const { filename } = server.config.database as { filename: string };
      await server.db.destroy();
      await expectUnavailable(await postJson(http, page, '/signup/passkey/verify', credential), 'completing a sign-up');
      await expectUnavailable(await http.get(`/interaction/${page.uid}`), 'a page');
      await expectServerError(await http.get((await authorizationRequest(rp)).url.href), 'the authorization endpoint');
      const { client_id, client_secret } = rp.clientMetadata();
      const token = await fetch(server.url('/token'), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${client_id}:${client_secret}`).toString('base64')}` },
        body: 'grant_type=refresh_token&refresh_token=anything',
      });
      assert.equal(token.status, 503, await token.clone().text());
      assert.equal(((await token.json()) as { error: string }).error, 'server_error');
      const ready = await fetch(server.url('/readyz'));
      assert.equal(ready.status, 503);
      assert.equal(((await ready.json()) as { checks: { database: string } }).checks.database, 'unreachable');
      // Nothing was stored by the refused completion.
      const check = openDatabase({ client: 'sqlite', filename });
      try {
        assert.equal(await check('accounts').where({ email: 'gone@example.com' }).first(), undefined);
      } finally {
        await check.destroy();
      }
    } finally {
      await server.close();
    }
  });
});

describe('a process killed in the middle of a sign-up', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-kill-'));
  const file = join(dir, 'latchkey.sqlite3');
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('leaves no account, no passkey and no lock-out behind', async () => {
    const port = await freePort();
    const issuer = `http://localhost:${port}`;
    const run = launchLatchkey(dir, { PORT: String(port), DATABASE_URL: `sqlite:${file}`, LOG_LEVEL: 'info' });
    const db = openDatabase({ client: 'sqlite', filename: file });
    try {
      await run.ready;
      // Stall the sign-up transaction right after it inserted the account, before the passkey.
      await db.raw('CREATE TABLE stall_rows (x INTEGER)');
      await db.raw('INSERT INTO stall_rows (x) WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 12000) SELECT x FROM c');
      await db.raw('CREATE TRIGGER stall AFTER INSERT ON accounts BEGIN SELECT count(*) FROM stall_rows a, stall_rows b WHERE a.x + b.x > 0; END');

      const http = new HttpClient(issuer);
      const page: PageState = await openInteraction(http, `${issuer}/account`);
      const email = 'killed@example.com';
      assert.equal((await postForm(http, page, '/signup', { email })).status, 303);
      const code = await run.waitForOutput((output) => output.split('\n').filter((line) => line.includes('SMTP_URL unset') && line.includes(email)).at(-1)?.match(/code is: (\d{6})/)?.[1]);
      assert.equal((await postForm(http, page, '/signup/code', { code })).status, 303);
      const authenticator = new SoftwareAuthenticator({ origin: issuer });
      const options = await postJson(http, page, '/signup/passkey/options', {});
      const credential = authenticator.createCredential(await options.json());
      const verify = postJson(http, page, '/signup/passkey/verify', credential).catch((error: Error) => error);

      // Wait until the process holds the write lock for a while (inside the stalled transaction), then kill it.
      await db.raw('PRAGMA busy_timeout = 0');
      let heldSince: number | undefined;
      for (const started = Date.now(); Date.now() - started < 20_000; ) {
        const busy = await db.raw('BEGIN IMMEDIATE').then(
          () => db.raw('ROLLBACK').then(() => false),
          () => true,
        );
        if (!busy) heldSince = undefined;
        else if (heldSince === undefined) heldSince = Date.now();
        else if (Date.now() - heldSince > 300) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(heldSince !== undefined, 'the sign-up reached its transaction');
      run.child.kill('SIGKILL');
      await run.exited;
      assert.ok((await verify) instanceof Error, 'the browser never got an answer');

      await db.raw('DROP TRIGGER stall');
      assert.equal(await db('accounts').where({ email }).first(), undefined, 'no account');
      assert.equal(await db('passkeys').where({ id: credential.id }).first(), undefined, 'no passkey');

      // A restart serves the person: the half-made passkey signs nobody in, and signing up again works.
      const restarted = await startLatchkey({ sqliteFile: file, env: { LATCHKEY_ISSUER: issuer } });
      try {
        const browser = new HttpClient(issuer, { connectTo: `http://localhost:${restarted.port}` });
        const signIn = await openInteraction(browser, `${issuer}/account`);
        const refused = await signInWithPasskey(browser, authenticator, signIn);
        assert.equal(refused.status, 400);
        assert.equal(((await refused.json()) as { code: string }).code, 'passkey_unknown_credential');
        const again = new HttpClient(issuer, { connectTo: `http://localhost:${restarted.port}` });
        await signUp(again, restarted, new SoftwareAuthenticator({ origin: issuer }), await openInteraction(again, `${issuer}/account`), email);
        assert.equal(await count(restarted.db, 'accounts', { email }), 1);
      } finally {
        await restarted.close();
      }
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
      await db.destroy();
    }
  });
});

describe('a restart', () => {
  it('keeps sessions, refresh tokens and signing keys', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-restart-'));
    const file = join(dir, 'latchkey.sqlite3');
    try {
      const first = await startLatchkey({ sqliteFile: file });
      const issuer = first.issuer;
      let rp: oidc.Configuration;
      let refreshToken: string;
      let idToken: string;
      let browser: HttpClient;
      let jwks: unknown;
      try {
        rp = await registerRelyingParty(first);
        const authenticator = new SoftwareAuthenticator({ origin: issuer });
        const signup = new HttpClient(issuer);
        await finishAtApplication(signup, await signUp(signup, first, authenticator, await openInteraction(signup, (await authorizationRequest(rp)).url.href), 'restart@example.com'));
        browser = new HttpClient(issuer);
        const request = await authorizationRequest(rp, { scope: 'openid email offline_access', prompt: 'consent' });
        const verified = await signInWithPasskey(browser, authenticator, await openInteraction(browser, request.url.href));
        const callback = await finishAtApplication(browser, ((await verified.json()) as { redirectTo: string }).redirectTo);
        const tokens = await redeem(rp, request, callback);
        refreshToken = tokens.refresh_token!;
        idToken = tokens.id_token!;
        jwks = await (await fetch(first.url('/jwks'))).json();
        assert.ok(refreshToken);
      } finally {
        await first.close();
      }

      // The same database and issuer, a new process (here: a new app on a new port behind the same name).
      const second = await startLatchkey({ sqliteFile: file, env: { LATCHKEY_ISSUER: issuer } });
      try {
        const direct = `http://localhost:${second.port}`;
        assert.deepEqual(await (await fetch(`${direct}/jwks`)).json(), jwks, 'the same signing keys');
        // The session cookie from before the restart still signs the browser in, silently.
        const again = new HttpClient(issuer, { connectTo: direct });
        for (const name of ['_session', '_session.sig']) again.setCookie(name, browser.cookieValue(name)!);
        const silent = await authorizationRequest(rp, { prompt: 'none' });
        const { url } = await again.follow(silent.url.href);
        assert.ok(new URL(url).searchParams.get('code'), `signed in after the restart: ${url}`);
        // The refresh token from before the restart works (and rotates).
        const { client_id, client_secret } = rp.clientMetadata();
        const refreshed = await fetch(`${direct}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${client_id}:${client_secret}`).toString('base64')}` },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
        });
        assert.equal(refreshed.status, 200);
        const body = (await refreshed.json()) as { refresh_token: string; id_token: string };
        assert.notEqual(body.refresh_token, refreshToken);
        const kid = (token: string) => (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
        assert.equal(kid(body.id_token), kid(idToken), 'signed with the same key');
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
