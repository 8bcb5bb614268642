import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, apiClient, apiToken, assertProblem } from '../helpers/api.ts';
import { startLatchkey, type TestServer } from '../helpers/app.ts';
import { SoftwareAuthenticator } from '../helpers/authenticator.ts';
import { openInteraction, signInWithPasskey } from '../helpers/flows.ts';
import { csrfTokenOf, HttpClient } from '../helpers/http.ts';
import { authorizationRequest, registerRelyingParty } from '../helpers/rp.ts';

const backend = { ...apiClient('onboarding', 'users:read users:write enrollments:write events:read'), client_name: 'Acme HR' };
const reader = apiClient('reader', 'users:read');

interface LinkJson {
  id: string;
  status: string;
  url?: string;
  qr_svg?: string;
  invited_by: string;
  expires_at: string;
  passkey_id: string | null;
}

describe('enrollment links', () => {
  let server: TestServer;
  let token: string;

  async function newUser(email: string): Promise<string> {
    const response = await api(server, token, 'POST', '/users', { email, email_verified: true });
    assert.equal(response.status, 201);
    return ((await response.json()) as { id: string }).id;
  }

  async function newLink(userId: string, body: Record<string, unknown> = {}): Promise<LinkJson> {
    const response = await api(server, token, 'POST', `/users/${userId}/enrollment-links`, body);
    const json = (await response.json()) as LinkJson;
    assert.equal(response.status, 201, JSON.stringify(json));
    return json;
  }

  async function status(id: string): Promise<string> {
    return ((await (await api(server, token, 'GET', `/enrollment-links/${id}`)).json()) as LinkJson).status;
  }

  /** A person opening the link in a browser: the page and its CSRF token. */
  async function open(url: string) {
    const browser = new HttpClient(server.issuer);
    const response = await browser.get(new URL(url).pathname);
    const html = await response.text();
    return { browser, response, html, csrf: response.status === 200 ? csrfTokenOf(html) : '' };
  }

  async function createPasskey(page: Awaited<ReturnType<typeof open>>, url: string, authenticator: SoftwareAuthenticator) {
    const path = new URL(url).pathname;
    const options = await page.browser.request('POST', `${path}/passkey/options`, { body: {}, headers: { 'x-csrf-token': page.csrf } });
    const optionsJson = (await options.json()) as Record<string, unknown>;
    assert.equal(options.status, 200, JSON.stringify(optionsJson));
    return { options: optionsJson, verified: await page.browser.request('POST', `${path}/passkey/verify`, { body: authenticator.createCredential(optionsJson as never), headers: { 'x-csrf-token': page.csrf } }) };
  }

  async function problemPage(page: Promise<Awaited<ReturnType<typeof open>>>, status: number, code: string) {
    const { response, html } = await page;
    assert.equal(response.status, status);
    assert.match(html, new RegExp(`<code>${code}</code>`));
    assert.match(html, /role="alert"/);
  }

  before(async () => {
    server = await startLatchkey({ clients: [backend, reader] });
    token = await apiToken(server, backend, 'users:read users:write enrollments:write events:read');
  });
  after(() => server.close());

  it('onboards a person: link with URL and QR code → opened → passkey created → completed, then they sign in', async () => {
    const userId = await newUser('new.hire@example.com');
    const link = await newLink(userId);
    assert.equal(link.status, 'created');
    assert.equal(link.invited_by, 'Acme HR', 'defaults to the client’s name');
    assert.match(link.url!, new RegExp(`^${server.issuer}/enroll/[A-Za-z0-9_-]{43}$`));
    assert.match(link.qr_svg!, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"[\s\S]*<\/svg>\s*$/);
    assert.ok(Date.parse(link.expires_at) - Date.now() > 6 * 24 * 3600 * 1000, 'a week by default');
    const read = (await (await api(server, token, 'GET', `/enrollment-links/${link.id}`)).json()) as LinkJson;
    assert.equal(read.url, undefined, 'the URL (a secret) is shown only at creation');

    const page = await open(link.url!);
    assert.equal(page.response.status, 200);
    assert.equal(page.response.headers.get('cache-control'), 'no-store');
    assert.match(page.html, /<strong>Acme HR<\/strong> invited you to create a passkey for <strong>new.hire@example.com<\/strong>/);
    assert.match(page.html, /<button type="button" id="create-passkey" class="primary"[^>]*>Create a passkey<\/button>/);
    assert.equal(await status(link.id), 'opened');

    const authenticator = new SoftwareAuthenticator({ origin: server.issuer });
    const { options, verified } = await createPasskey(page, link.url!, authenticator);
    assert.equal((options.user as { name: string }).name, 'new.hire@example.com');
    assert.equal(verified.status, 200);
    assert.deepEqual(await verified.json(), { redirectTo: '/enroll/done' });
    const done = await page.browser.get('/enroll/done');
    assert.match(await done.text(), /Your passkey is ready/);

    const completed = (await (await api(server, token, 'GET', `/enrollment-links/${link.id}`)).json()) as LinkJson;
    assert.equal(completed.status, 'completed');
    assert.equal(completed.passkey_id, authenticator.credentials[0]!.id);

    const rp = await registerRelyingParty(server);
    const browser = new HttpClient(server.issuer);
    const signIn = await signInWithPasskey(browser, authenticator, await openInteraction(browser, (await authorizationRequest(rp)).url.href));
    assert.equal(signIn.status, 200, 'the new passkey signs in');

    const events = (await (await api(server, token, 'GET', `/events?user_id=${userId}`)).json()) as { data: { type: string }[] };
    assert.deepEqual(events.data.map((e) => e.type), ['account.created', 'enrollment.created', 'enrollment.opened', 'passkey.registered', 'enrollment.completed', 'signin.succeeded']);
  });

  it('a second use shows a clear page and changes nothing', async () => {
    const userId = await newUser('twice@example.com');
    const link = await newLink(userId);
    const page = await open(link.url!);
    const first = await createPasskey(page, link.url!, new SoftwareAuthenticator({ origin: server.issuer }));
    assert.equal(first.verified.status, 200);
    await problemPage(open(link.url!), 410, 'enrollment_link_used');
    // The page left open in the first browser tries again with another authenticator.
    const options = await page.browser.request('POST', `${new URL(link.url!).pathname}/passkey/options`, { body: {}, headers: { 'x-csrf-token': page.csrf } });
    assert.equal(options.status, 410);
    assert.equal(((await options.json()) as { code: string }).code, 'enrollment_link_used');
    const passkeys = (await (await api(server, token, 'GET', `/users/${userId}/passkeys`)).json()) as { data: unknown[] };
    assert.equal(passkeys.data.length, 1);
  });

  it('two racing completions of one link store exactly one passkey', async () => {
    const userId = await newUser('race@example.com');
    const link = await newLink(userId);
    const path = new URL(link.url!).pathname;
    const pages = await Promise.all([open(link.url!), open(link.url!)]);
    const prepared = await Promise.all(
      pages.map(async (page) => {
        const options = await (await page.browser.request('POST', `${path}/passkey/options`, { body: {}, headers: { 'x-csrf-token': page.csrf } })).json();
        return { page, credential: new SoftwareAuthenticator({ origin: server.issuer }).createCredential(options as never) };
      }),
    );
    const results = await Promise.all(prepared.map(({ page, credential }) => page.browser.request('POST', `${path}/passkey/verify`, { body: credential, headers: { 'x-csrf-token': page.csrf } })));
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 410]);
    assert.equal(((await (await api(server, token, 'GET', `/users/${userId}/passkeys`)).json()) as { data: unknown[] }).data.length, 1);
  });

  it('an expired link shows a clear page and cannot be revoked', async () => {
    const userId = await newUser('late@example.com');
    const link = await newLink(userId, { expires_in: 60 });
    server.advanceClock(61_000);
    try {
      await problemPage(open(link.url!), 410, 'enrollment_link_expired');
      assert.equal(await status(link.id), 'expired');
      await assertProblem(await api(server, token, 'POST', `/enrollment-links/${link.id}/revoke`), 409, 'enrollment_not_active');
    } finally {
      server.advanceClock(-61_000);
    }
  });

  it('a revoked link shows a clear page; an unknown one too', async () => {
    const userId = await newUser('revoked@example.com');
    const link = await newLink(userId);
    const revoked = await api(server, token, 'POST', `/enrollment-links/${link.id}/revoke`);
    assert.equal(revoked.status, 200);
    assert.equal(((await revoked.json()) as LinkJson).status, 'revoked');
    await problemPage(open(link.url!), 410, 'enrollment_link_revoked');
    await assertProblem(await api(server, token, 'POST', `/enrollment-links/${link.id}/revoke`), 409, 'enrollment_not_active');
    await problemPage(open(`${server.issuer}/enroll/${'A'.repeat(43)}`), 404, 'enrollment_link_invalid');
    await problemPage(open(`${server.issuer}/enroll/short`), 404, 'enrollment_link_invalid');
    await assertProblem(await api(server, token, 'GET', '/enrollment-links/enr_nothing'), 404, 'enrollment_not_found');
  });

  it('a link for a disabled user shows a clear page and changes nothing; none can be created for one', async () => {
    const userId = await newUser('paused@example.com');
    const link = await newLink(userId);
    const page = await open(link.url!);
    assert.equal(await status(link.id), 'opened');
    assert.equal((await api(server, token, 'POST', `/users/${userId}/disable`)).status, 200);
    await problemPage(open(link.url!), 403, 'account_disabled');
    const options = await page.browser.request('POST', `${new URL(link.url!).pathname}/passkey/options`, { body: {}, headers: { 'x-csrf-token': page.csrf } });
    assert.equal(options.status, 403);
    assert.equal(await status(link.id), 'opened');
    await assertProblem(await api(server, token, 'POST', `/users/${userId}/enrollment-links`, {}), 409, 'user_disabled');
    assert.equal(((await (await api(server, token, 'GET', `/users/${userId}/passkeys`)).json()) as { data: unknown[] }).data.length, 0);
  });

  it('applies the link’s passkey policy: hints in the options, allowed models enforced', async () => {
    const userId = await newUser('policy@example.com');
    const link = await newLink(userId, {
      authenticator_attachment: 'cross-platform',
      resident_key: 'preferred',
      passkey_policy: { allowed_aaguids: ['cb69481e-8ff7-4039-93ec-0a2729a154a8'], attestation: 'direct' },
      invited_by: 'IT <b>desk</b>',
    });
    const page = await open(link.url!);
    assert.match(page.html, /IT &lt;b&gt;desk&lt;\/b&gt;/, 'escaped');
    const { options, verified } = await createPasskey(page, link.url!, new SoftwareAuthenticator({ origin: server.issuer }));
    assert.deepEqual(options.authenticatorSelection, { residentKey: 'preferred', requireResidentKey: false, userVerification: 'required', authenticatorAttachment: 'cross-platform' });
    assert.equal(options.attestation, 'direct');
    assert.equal(verified.status, 400);
    assert.equal(((await verified.json()) as { code: string }).code, 'passkey_not_allowed');
    assert.equal(await status(link.id), 'opened', 'a refused passkey leaves the link usable');
  });

  it('mails the link when asked', async () => {
    const userId = await newUser('mailed@example.com');
    const link = await newLink(userId, { send_email: true, invited_by: 'Acme onboarding' });
    const mail = server.mailbox.sent.filter((m) => m.to === 'mailed@example.com').at(-1)!;
    assert.equal(mail.subject, 'Acme onboarding invites you to create a passkey');
    assert.ok(mail.text.includes(link.url!));
  });

  it('refuses bad input and tokens without the scope', async () => {
    const userId = await newUser('bad-input@example.com');
    for (const body of [{ expires_in: 10 }, { expires_in: 99_999_999 }, { expires_in: '60' }, { authenticator_attachment: 'usb' }, { resident_key: 'always' }, { passkey_policy: { user_verification: 'never' } }, { color: 'red' }, { invited_by: '' }, { send_email: 'yes' }]) {
      await assertProblem(await api(server, token, 'POST', `/users/${userId}/enrollment-links`, body), 400, 'invalid_request');
    }
    await assertProblem(await api(server, token, 'POST', '/users/nobody/enrollment-links', {}), 404, 'user_not_found');
    const readOnly = await apiToken(server, reader, 'users:read');
    await assertProblem(await api(server, readOnly, 'POST', `/users/${userId}/enrollment-links`, {}), 403, 'insufficient_scope');
  });
});
