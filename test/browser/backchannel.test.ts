/**
 * Backchannel approval (CIBA, poll mode) with the person in a real browser: headless Chromium
 * with a virtual WebAuthn authenticator. The person is onboarded through an enrollment link,
 * then approves "Transfer 500 EUR to ACME" from the mailed link; the bank polls for tokens.
 *
 * Run: node --import tsx --test test/browser/backchannel.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import type { ClientMetadata } from 'oidc-provider';
import type { Browser } from 'playwright-core';
import { api, apiClient, apiToken } from '../helpers/api.ts';
import { startLatchkey, type TestServer } from '../helpers/app.ts';
import { addVirtualAuthenticator, browserUnavailable, disablePasskeyAutofill, expectPage, launchBrowser, newContext } from './helpers.ts';

const admin = apiClient('onboarding', 'users:write enrollments:write');
const bank: ClientMetadata = {
  client_id: 'bank',
  client_secret: 'bank-secret-0123456789abcdefghijklmnopqrstuvwxyz',
  client_name: 'Example Bank',
  grant_types: ['urn:openid:params:grant-type:ciba'],
  response_types: [],
  redirect_uris: [],
  backchannel_token_delivery_mode: 'poll',
};

describe('backchannel approval in the browser', { skip: browserUnavailable }, () => {
  let server: TestServer;
  let browser: Browser;

  before(async () => {
    server = await startLatchkey({ clients: [admin, bank] });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  async function bankCall(path: string, params: Record<string, string>) {
    const response = await fetch(server.url(path), {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`bank:${bank.client_secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params),
    });
    return (await response.json()) as Record<string, string>;
  }

  it('the person sees the bank and the binding message, approves with a passkey, and the bank gets a phrh token', { timeout: 30_000 }, async () => {
    const token = await apiToken(server, admin, 'users:write enrollments:write');
    const user = (await (await api(server, token, 'POST', '/users', { email: 'payer@example.com' })).json()) as { id: string };
    const link = (await (await api(server, token, 'POST', `/users/${user.id}/enrollment-links`, {})).json()) as { url: string };

    const context = await newContext(browser);
    await disablePasskeyAutofill(context);
    const page = await context.newPage();
    await addVirtualAuthenticator(page);
    await page.goto(link.url);
    await page.getByRole('button', { name: 'Create a passkey' }).click();
    await expectPage(page, 'Your passkey is ready');

    const { auth_req_id } = await bankCall('/backchannel', { scope: 'openid', login_hint: 'payer@example.com', binding_message: 'Transfer 500 EUR to ACME' });
    assert.ok(auth_req_id);
    assert.equal((await bankCall('/token', { grant_type: 'urn:openid:params:grant-type:ciba', auth_req_id })).error, 'authorization_pending');

    const mail = server.mailbox.sent.filter((m) => m.to === 'payer@example.com').at(-1)!;
    await page.goto(mail.text.match(/http:\/\/\S+\/approve\/\S+/)![0]);
    await expectPage(page, 'Approve a request from Example Bank');
    assert.equal((await page.locator('#binding-message').textContent())?.trim(), 'Transfer 500 EUR to ACME');
    await page.getByRole('button', { name: 'Approve' }).click();
    await expectPage(page, 'Request approved');

    const tokens = await bankCall('/token', { grant_type: 'urn:openid:params:grant-type:ciba', auth_req_id });
    const claims = decodeJwt(tokens.id_token!);
    assert.equal(claims.sub, user.id);
    assert.equal(claims.acr, 'phrh');

    // A second request, denied with the button.
    const second = await bankCall('/backchannel', { scope: 'openid', login_hint: user.id, binding_message: 'Transfer 9000 EUR to EVIL' });
    const next = server.mailbox.sent.filter((m) => m.to === 'payer@example.com').at(-1)!;
    await page.goto(next.text.match(/http:\/\/\S+\/approve\/\S+/)![0]);
    await page.getByRole('button', { name: 'Deny' }).click();
    await expectPage(page, 'Request denied');
    assert.equal((await bankCall('/token', { grant_type: 'urn:openid:params:grant-type:ciba', auth_req_id: second.auth_req_id! })).error, 'access_denied');
    await context.close();
  });
});
