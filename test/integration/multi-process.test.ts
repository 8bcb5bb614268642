import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type * as oidc from 'openid-client';
import { SoftwareAuthenticator } from '../helpers/authenticator.ts';
import type { TestServer } from '../helpers/app.ts';
import { Balancer } from '../helpers/balancer.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/databases.ts';
import { finishAtApplication, openInteraction, postForm, postJson, signInWithPasskey } from '../helpers/flows.ts';
import { HttpClient } from '../helpers/http.ts';
import { freePort, launchLatchkey, type LatchkeyProcess } from '../helpers/process.ts';
import { authorizationRequest, redeem, registerRelyingParty, REDIRECT_URI } from '../helpers/rp.ts';

/**
 * Two Latchkey processes (`src/main.ts`, as `npm start` runs it) started together on one empty
 * PostgreSQL schema behind a load balancer: they migrate and create keys without colliding,
 * and serve as one provider.
 */
describe('two Latchkey processes on one PostgreSQL database', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-nodes-'));
  let database: TestDatabase;
  let balancer: Balancer;
  let nodes: LatchkeyProcess[] = [];
  let rp: oidc.Configuration;

  before(async () => {
    database = await openTestDatabase('postgres', { migrate: false });
    balancer = await Balancer.start();
    const ports = [await freePort(), await freePort()];
    nodes = ports.map((port) =>
      launchLatchkey(dir, {
        PORT: String(port),
        DATABASE_URL: database.url,
        LATCHKEY_ISSUER: balancer.origin,
        LATCHKEY_INITIAL_ACCESS_TOKEN: 'test-initial-access-token-0123456789',
        LOG_LEVEL: 'info', // mail (with its code) goes to the log without SMTP_URL
      }),
    );
    await Promise.all(nodes.map((n) => n.ready));
    balancer.setBackend('a', ports[0]!);
    balancer.setBackend('b', ports[1]!);
    balancer.target = 'round-robin';
    rp = await registerRelyingParty({ issuer: balancer.origin } as TestServer);
  });
  after(async () => {
    for (const node of nodes) node.child.kill('SIGTERM');
    const codes = await Promise.all(nodes.map((n) => n.exited));
    await balancer?.close();
    await database?.close();
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(codes, [0, 0], 'both nodes shut down cleanly');
  });

  /** The code mailed to `email`, read from the log of whichever node sent it. */
  async function mailedCode(email: string): Promise<string> {
    for (let attempt = 0; attempt < 50; attempt++) {
      for (const node of nodes) {
        const line = node.output().split('\n').findLast((l) => l.includes(`"to":"${email}"`));
        const code = line?.match(/\\n.*?\b(\d{6})\b/)?.[1];
        if (code) return code;
      }
      await sleep(50);
    }
    throw new Error(`no code mailed to ${email}`);
  }

  it('agrees on one schema and one set of keys after starting together', async () => {
    const keys = await database.db('signing_keys').select('use', 'alg', 'state');
    assert.deepEqual(keys.map((k) => `${k.use}:${k.alg ?? ''}:${k.state}`).sort(), ['cookie::active', 'sig:ES256:active', 'sig:RS256:active']);
    const [a, b] = await Promise.all(['a', 'b'].map((n) => balancer.on(n as 'a', async () => (await fetch(`${balancer.origin}/jwks`)).json())));
    assert.deepEqual(a, b);
  });

  it('signs up on one process, signs in across both, and lets one of 50 parallel redemptions win', async () => {
    const email = 'processes@example.com';
    const authenticator = new SoftwareAuthenticator({ origin: balancer.origin });
    const http = new HttpClient(balancer.origin);
    const request = await authorizationRequest(rp);
    // Started on A, finished on B.
    const page = await balancer.on('a', () => openInteraction(http, request.url.href));
    const afterSignup = await balancer.on('b', async () => {
      assert.equal((await postForm(http, page, '/signup', { email })).status, 303);
      assert.equal((await postForm(http, page, '/signup/code', { code: await mailedCode(email) })).status, 303);
      const options = await postJson(http, page, '/signup/passkey/options', {});
      const done = await postJson(http, page, '/signup/passkey/verify', authenticator.createCredential(await options.json()));
      assert.equal(done.status, 200);
      return ((await done.json()) as { redirectTo: string }).redirectTo;
    });
    await redeem(rp, request, await finishAtApplication(http, afterSignup));

    // A passkey sign-in through both processes, then 50 parallel redemptions of its code.
    const browser = new HttpClient(balancer.origin);
    const signIn = await authorizationRequest(rp);
    const verified = await signInWithPasskey(browser, authenticator, await openInteraction(browser, signIn.url.href));
    const callback = await finishAtApplication(browser, ((await verified.json()) as { redirectTo: string }).redirectTo);
    const code = new URL(callback).searchParams.get('code')!;
    const { client_id, client_secret } = rp.clientMetadata();
    const statuses = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const response = await fetch(`${balancer.origin}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${client_id}:${client_secret}`).toString('base64')}` },
          body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: signIn.verifier }),
        });
        await response.body?.cancel();
        return response.status;
      }),
    );
    assert.equal(statuses.filter((s) => s === 200).length, 1, statuses.join(','));
  });
});
