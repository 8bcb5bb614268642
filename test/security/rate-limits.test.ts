import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type * as oidc from 'openid-client';
import { startLatchkey, type TestServer } from '../helpers/app.ts';
import { openInteraction, postForm, postJson } from '../helpers/flows.ts';
import { HttpClient } from '../helpers/http.ts';
import { authorizationRequest, registerRelyingParty } from '../helpers/rp.ts';
import { RULES } from '../../src/http/middleware/rate-limit.ts';

const REAL_BUDGETS = { LATCHKEY_RATE_LIMIT_SCALE: '1' };

async function newPage(server: TestServer, rp: oidc.Configuration) {
  const http = new HttpClient(server.issuer);
  return { http, page: await openInteraction(http, (await authorizationRequest(rp)).url.href) };
}

function retryAfter(response: Response): number {
  const value = Number(response.headers.get('retry-after'));
  assert.ok(Number.isInteger(value) && value > 0, `Retry-After: ${response.headers.get('retry-after')}`);
  return value;
}

describe('rate limits', () => {
  let server: TestServer;
  let rp: oidc.Configuration;

  before(async () => {
    server = await startLatchkey({ env: REAL_BUDGETS });
    rp = await registerRelyingParty(server);
  });
  after(() => server.close());

  it('limits codes sent to one address, answering 429 with Retry-After, and the wait grows', async () => {
    const { http, page } = await newPage(server, rp);
    const budget = RULES.codeSend.subject.points;
    for (let i = 0; i < budget; i++) {
      assert.equal((await postForm(http, page, '/signup', { email: 'flood@example.com' })).status, 303);
    }
    const mailsBefore = server.mailbox.sent.length;
    const first = await postForm(http, page, '/signup', { email: 'flood@example.com' });
    assert.equal(first.status, 429);
    assert.match(await first.text(), /rate_limited/);
    const wait = retryAfter(first);
    const second = await postForm(http, page, '/signup', { email: 'flood@example.com' });
    assert.equal(second.status, 429);
    assert.ok(retryAfter(second) > wait, `the wait grows: ${retryAfter(second)} > ${wait}`);
    assert.ok(retryAfter(second) <= 86_400, 'never longer than a day: no permanent lockout');
    assert.equal(server.mailbox.sent.length, mailsBefore, 'no mail is sent once limited');
    // Another address is not affected by this one's budget.
    assert.equal((await postForm(http, page, '/signup', { email: 'someone-else@example.com' })).status, 303);
  });

  it('limits code guesses per interaction', async () => {
    const { http, page } = await newPage(server, rp);
    await postForm(http, page, '/signup', { email: 'guesser@example.com' });
    let limited: Response | undefined;
    for (let i = 0; i < RULES.codeCheck.subject.points + 1; i++) {
      const response = await postForm(http, page, '/signup/code', { code: '000000' });
      if (response.status === 429) {
        limited = response;
        break;
      }
      await response.body?.cancel();
    }
    assert.ok(limited, 'a 429 arrives within the budget + 1');
    retryAfter(limited);
  });

  it('limits ceremony verification per credential', async () => {
    const { http, page } = await newPage(server, rp);
    const body = { id: 'Y3JlZGVudGlhbA', rawId: 'Y3JlZGVudGlhbA', type: 'public-key', response: {} };
    const statuses: number[] = [];
    for (let i = 0; i < RULES.ceremonyVerify.subject.points + 1; i++) {
      const response = await postJson(http, page, '/passkey/verify', body);
      statuses.push(response.status);
      await response.body?.cancel();
    }
    assert.ok(statuses.slice(0, RULES.ceremonyVerify.subject.points).every((s) => s === 400), 'refused as malformed until the budget is spent');
    assert.equal(statuses.at(-1), 429);
  });

  it('limits the token endpoint per client in OAuth’s JSON shape', async () => {
    const auth = `Basic ${Buffer.from(`${rp.clientMetadata().client_id}:${rp.clientMetadata().client_secret}`).toString('base64')}`;
    let last: Response | undefined;
    for (let i = 0; i < RULES.token.subject.points + 1; i++) {
      last = await fetch(server.url('/token'), {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=authorization_code&code=nope&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback&code_verifier=' + 'a'.repeat(43),
      });
      if (last.status === 429) break;
      await last.body?.cancel();
    }
    assert.equal(last!.status, 429);
    retryAfter(last!);
    assert.equal(((await last!.json()) as { error: string }).error, 'rate_limited');
  });
});

describe('rate limits across nodes and proxies', () => {
  it('two nodes on one database share the counters', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'latchkey-shared-')), 'shared.sqlite3');
    const a = await startLatchkey({ env: REAL_BUDGETS, sqliteFile: file });
    const b = await startLatchkey({ env: REAL_BUDGETS, sqliteFile: file });
    try {
      const rpA = await registerRelyingParty(a);
      const rpB = await registerRelyingParty(b);
      const onA = await newPage(a, rpA);
      const onB = await newPage(b, rpB);
      for (let i = 0; i < RULES.codeSend.subject.points; i++) {
        const node = i % 2 === 0 ? onA : onB;
        assert.equal((await postForm(node.http, node.page, '/signup', { email: 'shared@example.com' })).status, 303);
      }
      assert.equal((await postForm(onB.http, onB.page, '/signup', { email: 'shared@example.com' })).status, 429);
      assert.equal((await postForm(onA.http, onA.page, '/signup', { email: 'shared@example.com' })).status, 429);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('two PostgreSQL nodes share the per-minute budgets too (ceremony verification per credential)', async () => {
    const a = await startLatchkey({ env: REAL_BUDGETS, database: 'postgres' });
    const b = await startLatchkey({ env: REAL_BUDGETS, sameDatabaseAs: a });
    try {
      const onA = await newPage(a, await registerRelyingParty(a));
      const onB = await newPage(b, await registerRelyingParty(b));
      const body = { id: 'c2hhcmVkLWNyZWRlbnRpYWw', rawId: 'c2hhcmVkLWNyZWRlbnRpYWw', type: 'public-key', response: {} };
      const statuses: number[] = [];
      for (let i = 0; i < RULES.ceremonyVerify.subject.points + 1; i++) {
        const node = i % 2 === 0 ? onA : onB;
        const response = await postJson(node.http, node.page, '/passkey/verify', body);
        statuses.push(response.status);
        await response.body?.cancel();
      }
      assert.ok(statuses.slice(0, -1).every((s) => s === 400), String(statuses));
      assert.equal(statuses.at(-1), 429, 'the budget spent on both nodes together');
    } finally {
      await b.close();
      await a.close();
    }
  });

  it('on SQLite (one node) counts the per-minute budgets in memory and the longer ones in the database', async () => {
    const server = await startLatchkey({ env: REAL_BUDGETS, database: 'sqlite' });
    try {
      const { http, page } = await newPage(server, await registerRelyingParty(server));
      assert.equal((await postJson(http, page, '/passkey/options', {})).status, 200);
      assert.equal((await postForm(http, page, '/signup', { email: 'where@example.com' })).status, 303);
      const keys = (await server.db('rate_limits').select('key')).map((row: { key: string }) => row.key);
      assert.ok(keys.some((key) => key.startsWith('rl:codeSend:')), `sign-up codes (15 min, 1 h windows) persist: ${keys}`);
      assert.ok(!keys.some((key) => key.startsWith('rl:ceremonyOptions:')), `ceremony options (1 min window) do not: ${keys}`);
    } finally {
      await server.close();
    }
  });

  it('keeps the counters in Redis when REDIS_URL is set', async () => {
    const redis = new Redis('redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    const prefix = `rl:codeSend:subject:`;
    const email = `redis-${Date.now()}@example.com`;
    const server = await startLatchkey({ env: { ...REAL_BUDGETS, REDIS_URL: 'redis://127.0.0.1:6379' }, redis });
    try {
      const rp = await registerRelyingParty(server);
      const { http, page } = await newPage(server, rp);
      assert.equal((await postForm(http, page, '/signup', { email })).status, 303);
      assert.equal(await redis.get(`${prefix}${email}`), '1');
      assert.equal(await server.db('rate_limits').where('key', 'like', `%${email}`).first(), undefined, 'not in the database');
    } finally {
      await server.close();
      await redis.del(`${prefix}${email}`);
      redis.disconnect();
    }
  });

  it('believes X-Forwarded-For only from the configured proxy hops', async () => {
    const server = await startLatchkey({ env: { ...REAL_BUDGETS, LATCHKEY_TRUST_PROXY: 'true', LATCHKEY_PROXY_HOPS: '1' } });
    try {
      const rp = await registerRelyingParty(server);
      const { http, page } = await newPage(server, rp);
      // The client prepends a fresh fake address each time; the proxy appends the real one.
      let status = 0;
      for (let i = 0; i < RULES.codeSend.ip.points + 1; i++) {
        const response = await http.request('POST', `/interaction/${page.uid}/signup`, {
          form: { csrf: page.csrf, email: `spoof${i}@example.com` },
          headers: { 'x-forwarded-for': `203.0.113.${i}, 198.51.100.7` },
        });
        status = response.status;
        await response.body?.cancel();
      }
      assert.equal(status, 429, 'spoofed leading entries do not buy a new budget');
    } finally {
      await server.close();
    }
  });
});
