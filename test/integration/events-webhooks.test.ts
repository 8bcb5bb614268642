import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { Webhook } from 'standardwebhooks';
import { api, apiClient, apiToken, assertProblem } from '../helpers/api.ts';
import { startLatchkey, type TestServer } from '../helpers/app.ts';
import { SoftwareAuthenticator } from '../helpers/authenticator.ts';
import { finishAtApplication, openInteraction, signInWithPasskey, signUp } from '../helpers/flows.ts';
import { HttpClient } from '../helpers/http.ts';
import { authorizationRequest, registerRelyingParty } from '../helpers/rp.ts';
import { eventually, WebhookReceiver } from '../helpers/webhook-receiver.ts';

const backend = apiClient('backend', 'users:read users:write events:read webhooks:write');
const usersOnly = apiClient('users-only', 'users:read users:write');

/** Fast retries so a test sees several attempts in a second or two. */
const FAST_WEBHOOKS = {
  LATCHKEY_WEBHOOK_ALLOW_HTTP: 'true',
  LATCHKEY_WEBHOOK_POLL_MS: '50',
  LATCHKEY_WEBHOOK_RETRY_BASE_MS: '100',
  LATCHKEY_WEBHOOK_MAX_ATTEMPTS: '30',
};

interface EventJson {
  id: string;
  type: string;
  user_id: string | null;
  actor: string | null;
  data: Record<string, unknown>;
  created_at: string;
}

async function allEvents(server: TestServer, token: string, query = ''): Promise<EventJson[]> {
  const out: EventJson[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 100; pages++) {
    const response = await api(server, token, 'GET', `/events?limit=5${query}${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as { data: EventJson[]; next_cursor: string | null };
    out.push(...body.data);
    cursor = body.next_cursor;
    if (!cursor) return out;
  }
  throw new Error('the event walk did not end');
}

async function subscribe(server: TestServer, token: string, receiver: WebhookReceiver, eventTypes?: string[]) {
  const response = await api(server, token, 'POST', '/webhooks', { url: receiver.url, ...(eventTypes ? { event_types: eventTypes } : {}) });
  const body = (await response.json()) as { id: string; secret: string };
  assert.equal(response.status, 201, JSON.stringify(body));
  receiver.secret = body.secret;
  return body;
}

async function createUser(server: TestServer, token: string, email: string): Promise<string> {
  const response = await api(server, token, 'POST', '/users', { email });
  assert.equal(response.status, 201);
  return ((await response.json()) as { id: string }).id;
}

describe('audit log', () => {
  let server: TestServer;
  let token: string;

  before(async () => {
    server = await startLatchkey({ clients: [backend, usersOnly], env: FAST_WEBHOOKS });
    token = await apiToken(server, backend, 'users:read users:write events:read webhooks:write');
  });
  after(() => server.close());

  it('records sign-up, sign-in, step-up, a refused sign-in and every API change of an account, in order', async () => {
    const rp: oidc.Configuration = await registerRelyingParty(server);
    const authenticator = new SoftwareAuthenticator({ origin: server.issuer });
    const http = new HttpClient(server.issuer);
    await finishAtApplication(http, await signUp(http, server, authenticator, await openInteraction(http, (await authorizationRequest(rp)).url.href), 'eve@example.com'));
    const browser = new HttpClient(server.issuer);
    const signedIn = await signInWithPasskey(browser, authenticator, await openInteraction(browser, (await authorizationRequest(rp)).url.href));
    assert.equal(signedIn.status, 200);
    await finishAtApplication(browser, ((await signedIn.json()) as { redirectTo: string }).redirectTo);
    // A step-up in the same browser: a fresh passkey ceremony for max_age=0.
    const stepUpUrl = (await authorizationRequest(rp, { max_age: '0', acr_values: 'phrh' })).url.href;
    const stepUpPage = await openInteraction(browser, stepUpUrl);
    assert.match(stepUpPage.html, /Confirm it’s you/);
    assert.equal((await signInWithPasskey(browser, authenticator, stepUpPage)).status, 200);
    const users = (await (await api(server, token, 'GET', '/users?email=eve@example.com')).json()) as { data: { id: string }[] };
    const eve = users.data[0]!.id;
    await api(server, token, 'POST', `/users/${eve}/disable`);
    const refused = new HttpClient(server.issuer);
    assert.equal((await signInWithPasskey(refused, authenticator, await openInteraction(refused, (await authorizationRequest(rp)).url.href))).status, 403);
    await api(server, token, 'POST', `/users/${eve}/enable`);
    await api(server, token, 'DELETE', `/users/${eve}/passkeys/${authenticator.credentials[0]!.id}`);
    await api(server, token, 'DELETE', `/users/${eve}`);

    const events = await allEvents(server, token, `&user_id=${eve}`);
    assert.deepEqual(
      events.map((e) => e.type),
      ['account.created', 'passkey.registered', 'signin.succeeded', 'stepup.succeeded', 'account.disabled', 'signin.failed', 'account.enabled', 'passkey.removed', 'account.deleted'],
    );
    const created = events[0]!;
    assert.equal(created.actor, 'user');
    assert.equal(created.data.via, 'signup');
    const signIn = events.find((e) => e.type === 'signin.succeeded')!;
    assert.equal(signIn.data.acr, 'phrh');
    assert.equal(signIn.data.passkey_id, authenticator.credentials[0]!.id);
    assert.equal(events.find((e) => e.type === 'signin.failed')!.data.code, 'account_disabled');
    assert.equal(events.find((e) => e.type === 'account.disabled')!.actor, 'client:backend');
    assert.match(created.id, /^evt_/);
    assert.ok(!Number.isNaN(Date.parse(created.created_at)));
  });

  it('pages through every event once, filters by type, and refuses bad queries', async () => {
    for (let i = 0; i < 12; i++) await createUser(server, token, `log-${i}@example.com`);
    const everything = await allEvents(server, token);
    assert.equal(new Set(everything.map((e) => e.id)).size, everything.length, 'no event twice');
    const created = await allEvents(server, token, '&type=account.created');
    assert.ok(created.length >= 12 && created.every((e) => e.type === 'account.created'));
    await assertProblem(await api(server, token, 'GET', '/events?type=nonsense'), 400, 'invalid_request');
    await assertProblem(await api(server, token, 'GET', '/events?cursor=nope'), 400, 'invalid_cursor');
    await assertProblem(await api(server, token, 'GET', '/events?limit=500'), 400, 'invalid_request');
    const other = await apiToken(server, usersOnly, 'users:read');
    await assertProblem(await api(server, other, 'GET', '/events'), 403, 'insufficient_scope');
    await assertProblem(await api(server, other, 'GET', '/webhooks'), 403, 'insufficient_scope');
  });

  it('offers no way to change or delete an event', async () => {
    const [first] = await allEvents(server, token);
    await assertProblem(await api(server, token, 'DELETE', `/events/${first!.id}`), 404, 'not_found');
    await assertProblem(await api(server, token, 'DELETE', '/events'), 405, 'method_not_allowed');
  });
});

describe('webhook subscriptions', () => {
  let server: TestServer;
  let token: string;

  before(async () => {
    server = await startLatchkey({ clients: [backend], env: { LATCHKEY_WEBHOOK_POLL_MS: '60000' } });
    token = await apiToken(server, backend, 'webhooks:write');
  });
  after(() => server.close());

  it('creates a subscription whose secret is shown once, lists, reads and deletes it', async () => {
    const created = await api(server, token, 'POST', '/webhooks', { url: 'https://app.example.com/hooks', event_types: ['account.created', 'signin.failed'], description: 'CRM sync' });
    assert.equal(created.status, 201);
    const body = (await created.json()) as { id: string; secret: string; url: string; event_types: string[] };
    assert.match(body.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.deepEqual(body.event_types, ['account.created', 'signin.failed']);
    assert.equal(created.headers.get('location'), `/webhooks/${body.id}`);
    const listed = (await (await api(server, token, 'GET', '/webhooks')).json()) as { data: Record<string, unknown>[] };
    assert.equal(listed.data.length, 1);
    assert.ok(!('secret' in listed.data[0]!), 'the secret is never shown again');
    const read = (await (await api(server, token, 'GET', `/webhooks/${body.id}`)).json()) as Record<string, unknown>;
    assert.equal(read.description, 'CRM sync');
    assert.ok(!('secret' in read));
    assert.deepEqual(((await (await api(server, token, 'GET', `/webhooks/${body.id}/deliveries`)).json()) as { data: unknown[] }).data, []);
    assert.equal((await api(server, token, 'DELETE', `/webhooks/${body.id}`)).status, 204);
    await assertProblem(await api(server, token, 'GET', `/webhooks/${body.id}`), 404, 'webhook_not_found');
    await assertProblem(await api(server, token, 'DELETE', `/webhooks/${body.id}`), 404, 'webhook_not_found');
  });

  it('refuses unsafe URLs and unknown event types', async () => {
    for (const url of ['http://app.example.com/hooks', 'ftp://app.example.com/', 'https://user:pw@app.example.com/', 'https://app.example.com/#x', 'not a url', 42]) {
      await assertProblem(await api(server, token, 'POST', '/webhooks', { url }), 400, 'invalid_webhook_url');
    }
    await assertProblem(await api(server, token, 'POST', '/webhooks', { url: 'https://app.example.com/', event_types: ['account.exploded'] }), 400, 'invalid_request');
    await assertProblem(await api(server, token, 'POST', '/webhooks', { url: 'https://app.example.com/', event_types: [] }), 400, 'invalid_request');
    await assertProblem(await api(server, token, 'POST', '/webhooks', { url: 'https://app.example.com/', secret: 'mine' }), 400, 'invalid_request');
    assert.deepEqual(((await (await api(server, token, 'GET', '/webhooks')).json()) as { data: unknown[] }).data, []);
  });
});

describe('webhook delivery', () => {
  it('retries while the receiver is down, then delivers every event once, signed', async () => {
    const receiver = new WebhookReceiver();
    await receiver.up();
    const server = await startLatchkey({ clients: [backend], env: FAST_WEBHOOKS });
    try {
      const token = await apiToken(server, backend, 'users:write webhooks:write');
      const hook = await subscribe(server, token, receiver, ['account.created', 'account.deleted']);
      // Down: the connection is refused.
      await receiver.down();
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push(await createUser(server, token, `outage-${i}@example.com`));
      await eventually(async () => {
        const d = (await (await api(server, token, 'GET', `/webhooks/${hook.id}/deliveries`)).json()) as { data: { attempts: number }[] };
        return d.data.length === 3 && d.data.every((x) => x.attempts >= 2);
      });
      // Up again, but answering 503 for a while.
      receiver.failWith = 503;
      await receiver.up();
      assert.ok(await eventually(() => receiver.requests.length >= 3), 'retries reach the receiver');
      receiver.failWith = undefined;
      assert.ok(await eventually(() => receiver.accepted.length === 3), `all three delivered (got ${receiver.accepted.length})`);
      await api(server, token, 'DELETE', `/users/${await createUser(server, token, 'short-lived@example.com')}`);
      assert.ok(await eventually(() => receiver.accepted.length === 5));
      await new Promise((resolve) => setTimeout(resolve, 500));

      assert.deepEqual(receiver.duplicates, [], 'no delivery id accepted twice');
      assert.equal(receiver.accepted.length, 5, 'nothing more arrived');
      assert.deepEqual(receiver.accepted.map((d) => d.type).sort(), ['account.created', 'account.created', 'account.created', 'account.created', 'account.deleted']);
      assert.deepEqual(new Set(receiver.accepted.slice(0, 3).map((d) => d.body.data.user_id)), new Set(ids));
      assert.ok(receiver.accepted.every((d) => /^msg_/.test(d.id) && typeof d.body.data.event_id === 'string' && !Number.isNaN(Date.parse(d.body.timestamp))));
      assert.ok(receiver.requests.some((r) => r.status === 503), 'the receiver saw retries it refused');
      const deliveries = (await (await api(server, token, 'GET', `/webhooks/${hook.id}/deliveries`)).json()) as { data: { id: string; status: string; attempts: number; last_status: number }[] };
      assert.ok(deliveries.data.every((d) => d.status === 'delivered' && d.last_status === 204));
      assert.ok(deliveries.data.filter((d) => d.attempts > 2).length >= 3, 'the first three needed several attempts');
      // Each retry of a delivery carried the same webhook-id.
      const retried = receiver.requests.filter((r) => r.status === 503).map((r) => r.id);
      assert.ok(retried.every((id) => receiver.accepted.some((d) => d.id === id)));
    } finally {
      await server.close();
      await receiver.down();
    }
  });

  it('a delivery signed with another secret is refused by the receiver', () => {
    const payload = JSON.stringify({ type: 'account.created', timestamp: new Date().toISOString(), data: {} });
    const right = new Webhook(`whsec_${Buffer.alloc(32, 1).toString('base64')}`);
    const wrong = new Webhook(`whsec_${Buffer.alloc(32, 2).toString('base64')}`);
    const now = new Date();
    const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': wrong.sign('msg_1', now, payload) };
    assert.throws(() => right.verify(payload, headers));
  });

  it('gives up after the configured attempts and marks the delivery failed', async () => {
    const receiver = new WebhookReceiver();
    await receiver.up();
    receiver.failWith = 410;
    const server = await startLatchkey({ clients: [backend], env: { ...FAST_WEBHOOKS, LATCHKEY_WEBHOOK_MAX_ATTEMPTS: '3' } });
    try {
      const token = await apiToken(server, backend, 'users:write webhooks:write');
      const hook = await subscribe(server, token, receiver);
      await createUser(server, token, 'gone@example.com');
      const failed = await eventually(async () => {
        const d = (await (await api(server, token, 'GET', `/webhooks/${hook.id}/deliveries`)).json()) as { data: { status: string }[] };
        return d.data.length === 1 && d.data[0]!.status === 'failed';
      });
      assert.ok(failed, 'marked failed');
      await new Promise((resolve) => setTimeout(resolve, 400));
      assert.equal(receiver.requests.length, 3, 'exactly three attempts');
      const [delivery] = ((await (await api(server, token, 'GET', `/webhooks/${hook.id}/deliveries`)).json()) as { data: { attempts: number; last_status: number; next_attempt_at: null }[] }).data;
      assert.equal(delivery!.attempts, 3);
      assert.equal(delivery!.last_status, 410);
      assert.equal(delivery!.next_attempt_at, null);
    } finally {
      await server.close();
      await receiver.down();
    }
  });

  it('survives a restart: deliveries queued before it are sent after it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-webhooks-'));
    const sqliteFile = join(dir, 'latchkey.sqlite3');
    const receiver = new WebhookReceiver();
    await receiver.up();
    await receiver.down();
    try {
      const first = await startLatchkey({ clients: [backend], env: FAST_WEBHOOKS, sqliteFile, database: 'sqlite' });
      const token = await apiToken(first, backend, 'users:write webhooks:write');
      await subscribe(first, token, receiver);
      for (let i = 0; i < 4; i++) await createUser(first, token, `restart-${i}@example.com`);
      await first.close();

      await receiver.up();
      const second = await startLatchkey({ clients: [backend], env: FAST_WEBHOOKS, sqliteFile, database: 'sqlite' });
      try {
        assert.ok(await eventually(() => receiver.accepted.length === 4), `all four delivered after the restart (got ${receiver.accepted.length})`);
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.deepEqual(receiver.duplicates, []);
        assert.deepEqual(receiver.accepted.map((d) => d.type), ['account.created', 'account.created', 'account.created', 'account.created']);
      } finally {
        await second.close();
      }
    } finally {
      await receiver.down();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('two nodes draining one outbox deliver each event exactly once', async () => {
    const receiver = new WebhookReceiver();
    await receiver.up();
    const a = await startLatchkey({ clients: [backend], env: FAST_WEBHOOKS });
    const b = await startLatchkey({ clients: [backend], env: FAST_WEBHOOKS, sameDatabaseAs: a });
    try {
      const token = await apiToken(a, backend, 'users:write webhooks:write');
      await subscribe(a, token, receiver, ['account.created']);
      const tokenB = await apiToken(b, backend, 'users:write');
      await Promise.all(Array.from({ length: 20 }, (_, i) => createUser(i % 2 ? a : b, i % 2 ? token : tokenB, `node-${i}@example.com`)));
      assert.ok(await eventually(() => receiver.accepted.length === 20), `20 delivered (got ${receiver.accepted.length})`);
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(receiver.accepted.length, 20);
      assert.deepEqual(receiver.duplicates, []);
      assert.equal(receiver.requests.length, 20, 'no delivery was even attempted twice');
    } finally {
      await b.close();
      await a.close();
      await receiver.down();
    }
  });
});
