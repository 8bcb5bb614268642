import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import * as oidc from 'openid-client';
import { listKeys, promoteKeys, retireKeys, rotateKeys } from '../../src/storage/repositories/keys.ts';
import { SoftwareAuthenticator } from '../helpers/authenticator.ts';
import { startLatchkey, type TestServer } from '../helpers/app.ts';
import { Balancer } from '../helpers/balancer.ts';
import { finishAtApplication, openInteraction, postJson, signUp } from '../helpers/flows.ts';
import { HttpClient } from '../helpers/http.ts';
import { authorizationRequest, redeem, registerRelyingParty } from '../helpers/rp.ts';

const ID_TOKEN_TTL = 600;

/**
 * Key rotation on two nodes behind a load balancer while relying parties keep refreshing
 * tokens: rotate (publish) → every node reloads → promote (sign) → every node reloads →
 * retire once nothing signed with the old key is still valid. No request may fail.
 */
describe('key rotation without downtime (two nodes, PostgreSQL)', () => {
  let balancer: Balancer;
  let a: TestServer;
  let b: TestServer;
  let rp: oidc.Configuration;
  let authenticator: SoftwareAuthenticator;
  let browser: HttpClient;
  const email = 'keys@example.com';

  const jwks = async () => (await (await fetch(`${balancer.origin}/jwks`)).json()) as JSONWebKeySet & { keys: { kid: string; alg: string; key_ops?: string[] }[] };
  /** Both nodes' published JWKS, fetched from each. */
  const jwksOfBoth = async () => [await balancer.on('a', jwks), await balancer.on('b', jwks)];
  const reloadBoth = async () => {
    await a.reloadKeys();
    await sleep(50); // the nodes pick rotations up at different moments
    await b.reloadKeys();
  };

  /** A passkey sign-in with offline_access; returns its tokens. */
  async function signIn(http = new HttpClient(balancer.origin)) {
    const request = await authorizationRequest(rp, { scope: 'openid email offline_access', prompt: 'login consent' });
    const page = await openInteraction(http, request.url.href);
    const options = await postJson(http, page, '/passkey/options', {});
    assert.equal(options.status, 200, `options: ${await options.clone().text()}`);
    const verified = await postJson(http, page, '/passkey/verify', authenticator.getAssertion(await options.json()));
    assert.equal(verified.status, 200, `verify: ${await verified.clone().text()}`);
    const callback = await finishAtApplication(http, ((await verified.json()) as { redirectTo: string }).redirectTo);
    return redeem(rp, request, callback);
  }

  before(async () => {
    balancer = await Balancer.start();
    const env = { LATCHKEY_ISSUER: balancer.origin };
    a = await startLatchkey({ database: 'postgres', env });
    b = await startLatchkey({ sameDatabaseAs: a, env });
    balancer.setBackend('a', a.port);
    balancer.setBackend('b', b.port);
    balancer.target = 'round-robin';
    rp = await registerRelyingParty(a);
    authenticator = new SoftwareAuthenticator({ origin: balancer.origin });
    browser = new HttpClient(balancer.origin);
    const codes = { lastCode: (to: string) => [a, b].map((n) => n.mailbox.sent.filter((m) => m.to === to)).flat().at(-1)!.text.match(/\b(\d{6})\b/)![1]! };
    const request = await authorizationRequest(rp);
    await finishAtApplication(browser, await signUp(browser, { ...a, mailbox: codes } as unknown as TestServer, authenticator, await openInteraction(browser, request.url.href), email));
  });
  after(async () => {
    await balancer?.close();
    await b?.close();
    await a?.close();
  });

  it('rotates the signing keys while refresh grants keep succeeding on both nodes', async () => {
    const [before] = await jwksOfBoth();
    assert.deepEqual(before!.keys.map((k) => k.alg), ['ES256', 'RS256']);
    const oldKid = before!.keys[0]!.kid;

    // Relying parties refreshing in the background, through the balancer (both nodes).
    const tokens: string[] = [];
    const failures: string[] = [];
    let running = true;
    const chains = await Promise.all([signIn(), signIn(), signIn()]);
    const load = chains.map(async (first) => {
      let refreshToken = first.refresh_token!;
      while (running) {
        try {
          const next = await oidc.refreshTokenGrant(rp, refreshToken);
          refreshToken = next.refresh_token!;
          tokens.push(next.id_token!);
        } catch (error) {
          failures.push(String(error));
          return;
        }
      }
    });

    // 1. rotate: the next keys are published by both nodes, but nothing is signed with them.
    const added = await rotateKeys(a.db, { use: 'sig' }, Date.now());
    assert.deepEqual(added.map((k) => `${k.alg}:${k.state}`), ['ES256:next', 'RS256:next']);
    await reloadBoth();
    for (const published of await jwksOfBoth()) {
      assert.deepEqual(published.keys.map((k) => k.kid), [oldKid, before!.keys[1]!.kid, ...added.map((k) => k.kid)]);
      assert.deepEqual(published.keys.slice(2).map((k) => k.key_ops), [['verify'], ['verify']]);
    }
    await sleep(150);
    assert.equal(decodeProtectedHeader(tokens.at(-1)!).kid, oldKid, 'the old key still signs');
    // A relying party that fetches the JWKS now never needs to fetch it again for this rotation.
    const relyingPartyCache = createLocalJWKSet(await jwks());

    // 2. promote: one node signs with the new key before the other has noticed; both verify.
    await promoteKeys(b.db, { use: 'sig' }, Date.now());
    await a.reloadKeys();
    await sleep(150);
    await b.reloadKeys();
    await sleep(150);
    const newKid = added.find((k) => k.alg === 'ES256')!.kid;
    assert.equal(decodeProtectedHeader(tokens.at(-1)!).kid, newKid, 'the new key signs');

    // 3. retire: refused while ID tokens signed with the old key may still be valid.
    const early = await retireKeys(a.db, { use: 'sig' }, Date.now(), ID_TOKEN_TTL);
    assert.equal(early.retired.length, 0);
    assert.deepEqual(early.waiting.map((k) => k.kid).sort(), [oldKid, before!.keys[1]!.kid].sort());
    const later = await retireKeys(a.db, { use: 'sig' }, Date.now() + (ID_TOKEN_TTL + 1) * 1000, ID_TOKEN_TTL);
    assert.equal(later.retired.length, 2);
    await reloadBoth();
    await sleep(100);

    running = false;
    await Promise.all(load);
    assert.deepEqual(failures, [], 'no refresh grant failed during the rotation');
    for (const published of await jwksOfBoth()) assert.deepEqual(published.keys.map((k) => k.kid), added.map((k) => k.kid));
    const kids = new Set(tokens.map((t) => decodeProtectedHeader(t).kid));
    assert.ok(kids.has(oldKid) && kids.has(newKid), 'tokens were signed with both keys');
    assert.ok(tokens.length >= 20, `only ${tokens.length} refreshes`);
    for (const token of tokens) await jwtVerify(token, relyingPartyCache, { issuer: balancer.origin });
    assert.deepEqual((await listKeys(a.db)).filter((k) => k.use === 'sig').map((k) => k.state), ['retired', 'retired', 'active', 'active']);
  });

  it('rotates the cookie secret: sessions survive the promotion, and cookies only the retired secret signed stop working', async () => {
    const idle = new HttpClient(balancer.origin); // signed in, then idle through the whole rotation
    await signIn(idle);
    await signIn(browser);
    const silent = async (http: HttpClient) => {
      const request = await authorizationRequest(rp, { prompt: 'none' });
      const { url } = await http.follow(request.url.href);
      return new URL(url).searchParams.get('error');
    };

    await rotateKeys(a.db, { use: 'cookie' }, Date.now());
    await reloadBoth();
    assert.equal(await silent(browser), null);
    await promoteKeys(a.db, { use: 'cookie' }, Date.now());
    await reloadBoth();
    // Still signed in; reading the cookie re-signs it with the new secret.
    assert.equal(await silent(browser), null);
    // A new sign-in (CSRF-protected pages included) works across both nodes after the promotion.
    await signIn(new HttpClient(balancer.origin));

    const { retired } = await retireKeys(a.db, { use: 'cookie' }, Date.now(), 0);
    assert.equal(retired.length, 1);
    await reloadBoth();
    assert.equal(await silent(browser), null, 'the active browser carries cookies signed with the new secret');
    assert.equal(await silent(idle), 'login_required', 'a cookie signed only with the retired secret is refused');
  });
});
