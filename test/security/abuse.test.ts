/**
 * Abuse that needs no stolen secret: floods of unauthenticated requests (storage stays bounded
 * and expired rows are purged), bodies over the limits, and user enumeration (known and unknown
 * email addresses get the same bytes and similar timing). Rate limits: rate-limits.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as oidc from 'openid-client';
import { SoftwareAuthenticator } from '../helpers/authenticator.ts';
import { startLatchkey, type TestServer } from '../helpers/app.ts';
import { openInteraction, postForm, postJson, signUp, type PageState } from '../helpers/flows.ts';
import { HttpClient } from '../helpers/http.ts';
import { authorizationRequest, registerRelyingParty } from '../helpers/rp.ts';
import { purgeExpired } from '../../src/storage/purge.ts';
import { RULES } from '../../src/http/middleware/rate-limit.ts';

async function count(server: TestServer, table: string, where: Record<string, unknown> = {}): Promise<number> {
  return Number((await server.db(table).where(where).count({ n: '*' }))[0]!.n);
}

/** Runs `task` `total` times, `width` at a time. */
async function flood<T>(total: number, width: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let start = 0; start < total; start += width) {
    results.push(...(await Promise.all(Array.from({ length: Math.min(width, total - start) }, (_, k) => task(start + k)))));
  }
  return results;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** A response reduced to what an observer compares: status, headers and body, with per-request values masked. */
async function shape(response: Response, masks: [string | RegExp, string][]): Promise<string> {
  const mask = (text: string) => masks.reduce((t, [from, to]) => t.replaceAll(from as string, to), text);
  const headers: string[] = [];
  response.headers.forEach((value, name) => {
    if (['date', 'x-request-id', 'content-length', 'etag'].includes(name)) return;
    headers.push(`${name}: ${name === 'set-cookie' ? value.replace(/=[^;]*/g, '=…') : mask(value)}`);
  });
  return [response.status, ...headers.sort(), '', mask(await response.text())].join('\n');
}

describe('floods of unauthenticated requests', () => {
  let server: TestServer;
  let rp: oidc.Configuration;

  before(async () => {
    server = await startLatchkey();
    rp = await registerRelyingParty(server);
  });
  after(() => server.close());

  it('2,000 ceremony options from 20 signed-out browsers leave nothing behind once expired rows are purged', async () => {
    const pages = await flood(20, 10, async () => {
      const http = new HttpClient(server.issuer);
      return { http, page: await openInteraction(http, (await authorizationRequest(rp)).url.href) };
    });
    const statuses = await flood(2000, 50, async (i) => {
      const { http, page } = pages[i % pages.length]!;
      const response = await postJson(http, page, '/passkey/options', i % 4 === 1 ? { email: `nobody${i}@example.com` } : {});
      await response.body?.cancel();
      return response.status;
    });
    assert.deepEqual([...new Set(statuses)], [200]);
    assert.equal(await count(server, 'webauthn_challenges'), 2000, 'one row per request while they live');
    // Nothing is purged early...
    await purgeExpired(server.db, Date.now());
    assert.equal(await count(server, 'webauthn_challenges'), 2000);
    // ...and everything the flood left (challenges, interactions, counters) is gone once expired.
    const later = Date.now() + 3601 * 1000;
    const removed = await purgeExpired(server.db, later);
    assert.equal(removed.webauthn_challenges, 2000);
    assert.equal(await count(server, 'webauthn_challenges'), 0);
    assert.equal(Number((await server.db('oidc_payloads').where({ model: 'Interaction' }).andWhere('expires_at', '>', later).count({ n: '*' }))[0]!.n), 0);
    assert.equal(await count(server, 'oidc_payloads', { model: 'Interaction' }), 0, 'interactions are purged');
    assert.equal(Number((await server.db('rate_limits').where('expire', '>', later).count({ n: '*' }))[0]!.n), 0);
  });

  it('with real budgets, a flood from one address is cut off at its budget and writes nothing more', async () => {
    const limited = await startLatchkey({ env: { LATCHKEY_RATE_LIMIT_SCALE: '1' } });
    try {
      const limitedRp = await registerRelyingParty(limited);
      const http = new HttpClient(limited.issuer);
      const page = await openInteraction(http, (await authorizationRequest(limitedRp)).url.href);
      const statuses = await flood(500, 25, async () => {
        const response = await postJson(http, page, '/passkey/options', {});
        await response.body?.cancel();
        return response.status;
      });
      const budget = RULES.ceremonyOptions.ip.points;
      assert.equal(statuses.filter((s) => s === 200).length, budget);
      assert.equal(statuses.filter((s) => s === 429).length, 500 - budget);
      assert.equal(await count(limited, 'webauthn_challenges'), budget, 'a refused request stores nothing');
    } finally {
      await limited.close();
    }
  });

  it('repeated code requests in one sign-up keep one code, not one per request', async () => {
    const http = new HttpClient(server.issuer);
    const page = await openInteraction(http, (await authorizationRequest(rp)).url.href);
    for (let i = 0; i < 30; i++) assert.equal((await postForm(http, page, '/signup', { email: `many${i}@example.com` })).status, 303);
    assert.equal(await count(server, 'email_codes', { interaction_uid: page.uid }), 1);
  });

  it('refuses bodies over the limits before reading them, and writes nothing', async () => {
    const http = new HttpClient(server.issuer);
    const page = await openInteraction(http, (await authorizationRequest(rp)).url.href);
    const mails = server.mailbox.sent.length;
    const form = await postForm(http, page, '/signup', { email: 'big@example.com', padding: 'x'.repeat(9 * 1024) });
    assert.equal(form.status, 413);
    assert.match(await form.text(), /payload_too_large/);
    // Not even valid JSON: the size is checked before the body is parsed.
    const json = await http.request('POST', `/interaction/${page.uid}/passkey/options`, { body: `{"email": "${'x'.repeat(40 * 1024)}`, headers: { 'x-csrf-token': page.csrf } });
    assert.equal(json.status, 413);
    assert.equal(((await json.json()) as { code: string }).code, 'payload_too_large');
    const account = await http.request('POST', '/account/passkeys/verify', { body: { padding: 'x'.repeat(40 * 1024) }, headers: { 'x-csrf-token': page.csrf } });
    assert.equal(account.status, 413);
    assert.equal(server.mailbox.sent.length, mails);
    assert.equal(await count(server, 'webauthn_challenges', { interaction_uid: page.uid }), 0);
    assert.equal(await count(server, 'email_codes', { interaction_uid: page.uid }), 0);
  });
});

describe('user enumeration', () => {
  let server: TestServer;
  let rp: oidc.Configuration;
  const known = 'known@example.com';
  const unknown = 'unknown@example.com';

  before(async () => {
    server = await startLatchkey();
    rp = await registerRelyingParty(server);
    const http = new HttpClient(server.issuer);
    await signUp(http, server, new SoftwareAuthenticator({ origin: server.issuer }), await openInteraction(http, (await authorizationRequest(rp)).url.href), known);
  });
  after(() => server.close());

  async function newPage(): Promise<{ http: HttpClient; page: PageState }> {
    const http = new HttpClient(server.issuer);
    return { http, page: await openInteraction(http, (await authorizationRequest(rp)).url.href) };
  }

  function masks(page: PageState, email: string): [string | RegExp, string][] {
    return [
      [page.uid, 'UID'],
      [page.csrf, 'CSRF'],
      [encodeURIComponent(email), 'EMAIL'],
      [email, 'EMAIL'],
    ];
  }

  for (const flow of ['signup', 'recovery'] as const) {
    it(`${flow}: the same bytes for a known and an unknown address, at every step`, async () => {
      const transcripts: string[][] = [];
      for (const email of [known, unknown]) {
        const { http, page } = await newPage();
        const steps: string[] = [];
        const m = masks(page, email);
        steps.push(await shape(await postForm(http, page, `/${flow}`, { email }), m));
        steps.push(await shape(await http.get(`/interaction/${page.uid}/${flow}/code?email=${encodeURIComponent(email)}`), [...m, [/content="[A-Za-z0-9_-]{43}"/g, 'content="CSRF"'], [/value="[A-Za-z0-9_-]{43}"/g, 'value="CSRF"']]));
        // Wrong guesses until the code is used up: the same answers in the same order.
        const mailed = server.mailbox.sent.filter((mail) => mail.to === email).at(-1)!.text.match(/\b(\d{6})\b/)?.[1];
        const wrong = mailed === '000000' ? '111111' : '000000';
        for (let i = 0; i <= server.config.emailCodeMaxAttempts; i++) {
          steps.push(await shape(await postForm(http, page, `/${flow}/code`, { code: wrong, email }), [...m, [/content="[A-Za-z0-9_-]{43}"/g, 'content="CSRF"'], [/value="[A-Za-z0-9_-]{43}"/g, 'value="CSRF"']]));
        }
        steps.push(await shape(await postJson(http, page, `/${flow}/passkey/options`, {}), m));
        transcripts.push(steps);
      }
      const [forKnown, forUnknown] = transcripts as [string[], string[]];
      for (let i = 0; i < forKnown.length; i++) assert.equal(forKnown[i], forUnknown[i], `step ${i}`);
    });
  }

  it('username-first sign-in: the same options for a known and an unknown address (but for the ids)', async () => {
    const shapes: string[] = [];
    for (const email of [known, unknown]) {
      const { http, page } = await newPage();
      const response = await postJson(http, page, '/passkey/options', { email });
      const body = (await response.clone().json()) as { challenge: string; allowCredentials: { id: string }[] };
      shapes.push(await shape(response, [[body.challenge, 'CHALLENGE'], ...body.allowCredentials.map((c): [string, string] => [c.id, 'CREDENTIAL']), ...masks(page, email)]));
    }
    assert.equal(shapes[0], shapes[1]);
  });

  it('answers known and unknown addresses in similar time', async () => {
    const rounds = 30;
    const timings: Record<string, { known: number[]; unknown: number[] }> = {};
    for (const [label, send] of [
      ['signup', (http: HttpClient, page: PageState, email: string) => postForm(http, page, '/signup', { email })],
      ['recovery', (http: HttpClient, page: PageState, email: string) => postForm(http, page, '/recovery', { email })],
      ['passkey options', (http: HttpClient, page: PageState, email: string) => postJson(http, page, '/passkey/options', { email })],
    ] as const) {
      timings[label] = { known: [], unknown: [] };
      const a = await newPage();
      const b = await newPage();
      // Interleaved, so drift in the machine's load hits both alike.
      for (let i = 0; i < rounds; i++) {
        for (const [which, email, { http, page }] of [['known', known, a], ['unknown', unknown, b]] as const) {
          const started = process.hrtime.bigint();
          const response = await send(http, page, email);
          await response.body?.cancel();
          timings[label]![which].push(Number(process.hrtime.bigint() - started) / 1e6);
          assert.ok(response.status < 400, `${label} ${which}: ${response.status}`);
        }
      }
      const k = median(timings[label]!.known);
      const u = median(timings[label]!.unknown);
      // Generous: a lookup that skips a query or a write shows up as a consistent gap.
      assert.ok(Math.abs(k - u) < Math.max(5, 0.5 * Math.max(k, u)), `${label}: median ${k.toFixed(2)} ms known vs ${u.toFixed(2)} ms unknown`);
    }
  });
});
