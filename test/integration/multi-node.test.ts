import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { purgeExpired } from '../../src/storage/purge.ts';
import { SoftwareAuthenticator } from '../helpers/authenticator.ts';
import { startLatchkey, type TestServer } from '../helpers/app.ts';
import { Balancer } from '../helpers/balancer.ts';
import { finishAtApplication, openInteraction, signInWithPasskey, signUp } from '../helpers/flows.ts';
import { HttpClient } from '../helpers/http.ts';
import { authorizationRequest, redeem, registerRelyingParty, REDIRECT_URI } from '../helpers/rp.ts';

/**
 * Two Latchkey nodes on one PostgreSQL schema behind a load balancer, as in production: they
 * share nothing but the database, so any node must be able to serve any request.
 */
describe('two nodes on one PostgreSQL database', () => {
  let balancer: Balancer;
  let a: TestServer;
  let b: TestServer;
  let rp: oidc.Configuration;

  before(async () => {
    balancer = await Balancer.start();
    const env = { LATCHKEY_ISSUER: balancer.origin };
    a = await startLatchkey({ database: 'postgres', env });
    b = await startLatchkey({ sameDatabaseAs: a, env });
    balancer.setBackend('a', a.port);
    balancer.setBackend('b', b.port);
    balancer.target = 'round-robin';
    rp = await registerRelyingParty(a);
  });
  after(async () => {
    await balancer?.close();
    await b?.close();
    await a?.close(); // the first node owns the schema and drops it
  });

  /** Mail goes to the mailbox of whichever node sent it. */
  const lastCode = (email: string) => {
    try {
      return b.mailbox.lastCode(email);
    } catch {
      return a.mailbox.lastCode(email);
    }
  };
  const codeMailer = { mailbox: { lastCode } } as unknown as TestServer; // signUp reads only the mailbox

  /** Signs a person up through the balancer and returns their passkey and signed-in browser. */
  async function signedUp(email: string) {
    const http = new HttpClient(balancer.origin);
    const authenticator = new SoftwareAuthenticator({ origin: balancer.origin });
    const request = await authorizationRequest(rp);
    const callback = await finishAtApplication(http, await signUp(http, codeMailer, authenticator, await openInteraction(http, request.url.href), email));
    const sub = (await redeem(rp, request, callback)).claims()!.sub;
    return { http, authenticator, sub };
  }

  /** A passkey sign-in with offline_access: tokens with a refresh token, and an unredeemed code. */
  async function signedInCode(email: string) {
    const { authenticator } = await signedUp(email);
    const browser = new HttpClient(balancer.origin);
    const request = await authorizationRequest(rp, { scope: 'openid email offline_access', prompt: 'consent' });
    const verified = await signInWithPasskey(browser, authenticator, await openInteraction(browser, request.url.href));
    const callback = await finishAtApplication(browser, ((await verified.json()) as { redirectTo: string }).redirectTo);
    return { request, callback };
  }

  const basic = () => `Basic ${Buffer.from(`${rp.clientMetadata().client_id}:${rp.clientMetadata().client_secret}`).toString('base64')}`;
  const tokenRequest = (params: Record<string, string>) =>
    fetch(`${balancer.origin}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic() },
      body: new URLSearchParams(params),
    });

  it('finishes on node B an interaction started on node A', async () => {
    const http = new HttpClient(balancer.origin);
    const authenticator = new SoftwareAuthenticator({ origin: balancer.origin });
    const request = await authorizationRequest(rp);
    const servedBefore = { ...balancer.served };
    const page = await balancer.on('a', () => openInteraction(http, request.url.href));
    assert.ok(balancer.served.a > servedBefore.a && balancer.served.b === servedBefore.b, 'the interaction started on A only');
    const callback = await balancer.on('b', async () => finishAtApplication(http, await signUp(http, codeMailer, authenticator, page, 'across@example.com')));
    assert.equal(b.mailbox.lastCode('across@example.com').length, 6, 'node B sent the code');
    const tokens = await balancer.on('b', () => redeem(rp, request, callback));
    assert.equal(tokens.claims()!.acr, 'urn:latchkey:acr:otp');
  });

  it('honours on node B a session made on node A', async () => {
    const { http, sub } = await balancer.on('a', () => signedUp('session@example.com'));
    const silent = await authorizationRequest(rp, { prompt: 'none' });
    const { url } = await balancer.on('b', () => http.follow(silent.url.href));
    const callback = new URL(url);
    assert.equal(callback.origin + callback.pathname, REDIRECT_URI);
    assert.equal(callback.searchParams.get('error'), null, `prompt=none on B: ${callback.searchParams.get('error')}`);
    const tokens = await balancer.on('b', () => redeem(rp, silent, url));
    assert.equal(tokens.claims()!.sub, sub, 'the same person, from the session A made');
  });

  it('lets exactly one of 50 parallel redemptions of a code across both nodes succeed', async () => {
    const { request, callback } = await signedInCode('race@example.com');
    const code = new URL(callback).searchParams.get('code')!;
    const served = { ...balancer.served };
    const responses = await Promise.all(
      Array.from({ length: 50 }, () =>
        tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: request.verifier }),
      ),
    );
    const statuses = responses.map((r) => r.status);
    const bodies = (await Promise.all(responses.map((r) => r.json()))) as { error?: string }[];
    assert.equal(statuses.filter((s) => s === 200).length, 1, `statuses: ${statuses.join(',')}`);
    assert.ok(bodies.every((body, i) => statuses[i] === 200 || body.error === 'invalid_grant'));
    assert.equal(balancer.served.a - served.a, 25, 'half went to A');
    assert.equal(balancer.served.b - served.b, 25, 'half went to B');
  });

  it('lets exactly one of parallel refresh-token rotations across both nodes win', async () => {
    const { request, callback } = await signedInCode('rotate@example.com');
    const tokens = await redeem(rp, request, callback);
    assert.ok(tokens.refresh_token);
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! })),
    );
    const statuses = responses.map((r) => r.status);
    await Promise.all(responses.map((r) => r.body?.cancel()));
    assert.equal(statuses.filter((s) => s === 200).length, 1, `statuses: ${statuses.join(',')}`);
    assert.ok(statuses.every((s) => s === 200 || s === 400));
  });

  it('purges expired rows on both nodes at once without harm', async () => {
    const now = Date.now();
    const expired = now - 1000;
    const live = now + 3_600_000;
    const rows = (prefix: string, expiresAt: number) => ({
      webauthn_challenges: Array.from({ length: 40 }, (_, i) => ({ challenge: `${prefix}-${i}`, purpose: 'authentication', interaction_uid: prefix, expires_at: expiresAt })),
      oidc_payloads: Array.from({ length: 40 }, (_, i) => ({ model: 'Interaction', id: `${prefix}-${i}`, payload: '{}', expires_at: expiresAt })),
    });
    for (const [prefix, at] of [['old', expired], ['new', live]] as const) {
      for (const [table, list] of Object.entries(rows(prefix, at))) await a.db(table).insert(list);
    }
    const results = await Promise.all([purgeExpired(a.db, now), purgeExpired(b.db, now), purgeExpired(a.db, now), purgeExpired(b.db, now)]);
    const removed = (table: string) => results.reduce((sum, r) => sum + (r[table] ?? 0), 0);
    assert.equal(removed('webauthn_challenges'), 40, 'every expired challenge removed exactly once');
    assert.ok(removed('oidc_payloads') >= 40);
    assert.equal((await a.db('webauthn_challenges').where('interaction_uid', 'old').count({ n: '*' }))[0]!.n, '0');
    assert.equal(Number((await b.db('webauthn_challenges').where('interaction_uid', 'new').count({ n: '*' }))[0]!.n), 40, 'live rows untouched');
    assert.equal(Number((await b.db('oidc_payloads').where('id', 'like', 'new-%').count({ n: '*' }))[0]!.n), 40);
    // Both nodes still serve sign-ins afterwards.
    for (const node of ['a', 'b'] as const) {
      const ready = await balancer.on(node, () => fetch(`${balancer.origin}/readyz`));
      assert.equal(ready.status, 200, `node ${node}: ${await ready.text()}`);
    }
  });
});
