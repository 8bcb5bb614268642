import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as oidc from 'openid-client';
import { SoftwareAuthenticator } from '../helpers/authenticator.ts';
import { startLatchkey, type TestServer } from '../helpers/app.ts';
import { finishAtApplication, openInteraction, postJson, signInWithPasskey, signUp } from '../helpers/flows.ts';
import { HttpClient } from '../helpers/http.ts';
import { authorizationRequest, redeem, registerRelyingParty } from '../helpers/rp.ts';
import { createLogger } from '../../src/logging.ts';
import { forgetSubscriptions, KnexEventStore } from '../../src/storage/repositories/events.ts';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef';

/** A logger whose JSON lines the test can read. */
function capturedLogger() {
  const lines: string[] = [];
  const logger = createLogger('info', { write: (line: string) => void lines.push(line) });
  return { logger, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** One sample of a metric in Prometheus text format (0 when absent). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelText = line.slice(name.length).match(/^\{([^}]*)\}/)?.[1] ?? '';
    if (wanted.every((w) => labelText.split(',').includes(w))) return Number(line.split(' ').at(-1));
  }
  return 0;
}

describe('operations: probes, request ids, logs and metrics', () => {
  let server: TestServer;
  let rp: oidc.Configuration;
  const log = capturedLogger();

  before(async () => {
    server = await startLatchkey({ logger: log.logger, env: { LATCHKEY_METRICS_TOKEN: METRICS_TOKEN } });
    rp = await registerRelyingParty(server);
  });
  after(() => server.close());

  const metrics = async () => {
    const response = await fetch(server.url('/metrics'), { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
    return response.text();
  };

  it('answers /healthz and /readyz while the database is up and migrated', async () => {
    const health = await fetch(server.url('/healthz'));
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const ready = await fetch(server.url('/readyz'));
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', checks: { database: 'ok', migrations: 'current', shutdown: 'no' } });
  });

  it('turns /readyz to 503 when a migration is pending, and back', async () => {
    const rows = await server.db('knex_migrations').select('*');
    await server.db('knex_migrations').delete();
    try {
      const ready = await fetch(server.url('/readyz'));
      assert.equal(ready.status, 503);
      assert.equal(((await ready.json()) as { checks: { migrations: string } }).checks.migrations, 'pending');
      assert.equal((await fetch(server.url('/healthz'))).status, 200, 'liveness does not depend on the database');
    } finally {
      await server.db('knex_migrations').insert(rows);
    }
    assert.equal((await fetch(server.url('/readyz'))).status, 200);
  });

  it('keeps a safe incoming X-Request-Id, replaces anything else, and logs it', async () => {
    const kept = await fetch(server.url('/healthz'), { headers: { 'x-request-id': 'lb-7f3a.42_x:1' } });
    assert.equal(kept.headers.get('x-request-id'), 'lb-7f3a.42_x:1');
    for (const unsafe of ['a'.repeat(65), 'has space', '{"json":1}', 'é']) {
      const replaced = await fetch(server.url('/healthz'), { headers: { 'x-request-id': encodeURI(unsafe) === unsafe ? unsafe : encodeURI(unsafe) } });
      const id = replaced.headers.get('x-request-id') ?? '';
      assert.match(id, /^[0-9a-f-]{36}$/, `generated for ${unsafe}`);
    }
    const generated = await fetch(server.url('/.well-known/openid-configuration'));
    const id = generated.headers.get('x-request-id')!;
    assert.match(id, /^[0-9a-f-]{36}$/);
    const line = log.records().find((r) => r.requestId === id);
    assert.ok(line, 'the request is logged under its id');
    assert.equal(line.method, 'GET');
    assert.equal(line.route, 'oidc:discovery');
    assert.equal(line.status, 200);
    assert.equal(typeof line.durationMs, 'number');
  });

  it('protects /metrics with LATCHKEY_METRICS_TOKEN', async () => {
    assert.equal((await fetch(server.url('/metrics'))).status, 401);
    const wrong = await fetch(server.url('/metrics'), { headers: { authorization: 'Bearer not-the-token-at-all' } });
    assert.equal(wrong.status, 401);
    assert.match(wrong.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.match(await metrics(), /latchkey_process_resident_memory_bytes/);
  });

  it('counts sign-ups, sign-ins, step-ups and refused ceremonies; logs route templates and no personal data', async () => {
    const before = await metrics();
    const email = 'observed.person@example.com';
    const authenticator = new SoftwareAuthenticator({ origin: server.issuer });
    const http = new HttpClient(server.issuer);
    const first = await authorizationRequest(rp);
    const callback = await finishAtApplication(http, await signUp(http, server, authenticator, await openInteraction(http, first.url.href), email));
    const tokens = await redeem(rp, first, callback);

    // Step-up: the session stands on the email code; phrh needs a passkey ceremony.
    const stepUp = await authorizationRequest(rp, { acr_values: 'phrh' });
    const stepUpPage = await openInteraction(http, stepUp.url.href);
    assert.match(stepUpPage.html, /Confirm it’s you/);
    const stepped = await signInWithPasskey(http, authenticator, stepUpPage);
    assert.equal(stepped.status, 200);
    await finishAtApplication(http, ((await stepped.json()) as { redirectTo: string }).redirectTo);

    // A sign-in in a fresh browser, and a refused one (a garbage assertion).
    const fresh = new HttpClient(server.issuer);
    const signIn = await authorizationRequest(rp);
    const signInPage = await openInteraction(fresh, signIn.url.href);
    const bad = await postJson(fresh, signInPage, '/passkey/verify', { id: 'AAAA', rawId: 'AAAA', type: 'public-key', response: {} });
    assert.equal(bad.status, 400);
    const badCode = ((await bad.json()) as { code: string }).code;
    const verified = await signInWithPasskey(fresh, authenticator, signInPage);
    assert.equal(verified.status, 200);

    const now = await metrics();
    const delta = (name: string, labels: Record<string, string> = {}) => sample(now, name, labels) - sample(before, name, labels);
    assert.equal(delta('latchkey_signups_total'), 1);
    assert.equal(delta('latchkey_stepups_total', { outcome: 'met' }), 1);
    assert.equal(delta('latchkey_signins_total'), 1);
    assert.equal(delta('latchkey_ceremony_failures_total', { ceremony: 'signin', code: badCode }), 1);
    assert.ok(delta('latchkey_http_requests_total', { method: 'POST', route: 'oidc:token', status: '200' }) >= 1);
    assert.ok(delta('latchkey_http_request_duration_seconds_count', { method: 'POST', route: '/interaction/:uid/passkey/verify' }) >= 3);
    assert.equal(sample(now, 'latchkey_http_requests_total', { route: '/interaction/:uid/passkey/verify', status: '400' }) >= 1, true);

    // The logs name routes, never the person, the interaction, cookies, codes or tokens.
    const text = log.lines.join('');
    const code = new URL(callback).searchParams.get('code')!;
    const uid = signInPage.uid;
    for (const secret of [email, code, uid, tokens.access_token, tokens.id_token!, server.mailbox.lastCode(email), http.cookieValue('_session')]) {
      if (secret) assert.ok(!text.includes(secret), `the log contains ${secret.slice(0, 12)}…`);
    }
    const routes = new Set(log.records().map((r) => r.route));
    assert.ok(routes.has('/interaction/:uid/signup/passkey/verify'));
    assert.ok(routes.has('oidc:authorization'));
    assert.ok(log.records().every((r) => r.msg !== 'request' || typeof r.requestId === 'string'));
  });

  it('reports the webhook backlog: pending deliveries and the age of the oldest, read from the outbox', async () => {
    const idle = await metrics();
    assert.equal(sample(idle, 'latchkey_webhook_backlog'), 0);
    assert.equal(sample(idle, 'latchkey_webhook_backlog_oldest_age_seconds'), 0);
    // A receiver nobody listens on: the deliveries stay pending (retried, never delivered).
    await server.db('webhooks').insert({ id: 'wh_backlog', url: 'http://127.0.0.1:9/hook', secret: 's'.repeat(32), event_types: JSON.stringify(['*']), description: null, created_by: null, created_at: Date.now() });
    forgetSubscriptions(server.db); // written behind the store's back: drop its cached subscriptions
    const store = new KnexEventStore(server.db);
    const queuedAt = Date.now() - 90_000;
    await store.append({ id: 'evt_backlog_1', type: 'account.created', actor: 'system' }, queuedAt);
    await store.append({ id: 'evt_backlog_2', type: 'account.created', actor: 'system' }, Date.now());
    try {
      const now = await metrics();
      assert.equal(sample(now, 'latchkey_webhook_backlog'), 2);
      const age = sample(now, 'latchkey_webhook_backlog_oldest_age_seconds');
      assert.ok(age >= 90 && age < 120, `oldest pending age ${age}`);
      // Given up or delivered: no longer backlog.
      await server.db('webhook_deliveries').where({ event_id: 'evt_backlog_1' }).update({ status: 'failed' });
      assert.equal(sample(await metrics(), 'latchkey_webhook_backlog'), 1);
    } finally {
      await server.db('webhook_deliveries').where({ webhook_id: 'wh_backlog' }).delete();
      await server.db('webhooks').where({ id: 'wh_backlog' }).delete();
    }
  });
});
