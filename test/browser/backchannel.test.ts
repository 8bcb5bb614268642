/**
 * Backchannel approval (CIBA, poll and ping modes) with the person in a real browser: headless
 * Chromium with a virtual WebAuthn authenticator. The person is onboarded through an enrollment
 * link, then approves "Transfer 500 EUR to ACME" from the mailed link; the bank polls for tokens,
 * or (ping mode) is notified and then fetches them.
 *
 * Run: node --import tsx --test test/browser/backchannel.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import type { ClientMetadata } from 'oidc-provider';
import type { Browser } from 'playwright-core';
import { apiClient, cibaClient } from '../helpers/api.ts';
import { startLatchkey, type TestServer } from '../helpers/app.ts';
import { startPingReceiver, type PingReceiver } from '../helpers/ping-receiver.ts';
import { browserUnavailable, enrollInBrowser, expectPage, launchBrowser } from './helpers.ts';

const admin = apiClient('onboarding', 'users:write enrollments:write');
const bank = cibaClient('bank');

const pinged: ClientMetadata = { ...bank, client_id: 'pinged-bank', backchannel_token_delivery_mode: 'ping' };

describe('backchannel approval in the browser', { skip: browserUnavailable }, () => {
  let server: TestServer;
  let browser: Browser;
  let receiver: PingReceiver;

  before(async () => {
    receiver = await startPingReceiver();
    server = await startLatchkey({
      clients: [admin, bank, { ...pinged, backchannel_client_notification_endpoint: receiver.url }],
      env: { LATCHKEY_CIBA_PING_ALLOW_PRIVATE: 'true', LATCHKEY_CIBA_PING_CA_FILE: receiver.caFile },
    });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await receiver?.close();
  });

  async function bankCall(path: string, params: Record<string, string>, client: ClientMetadata = bank) {
    const response = await fetch(server.url(path), {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params),
    });
    return (await response.json()) as Record<string, string>;
  }

  it('the person sees the bank and the binding message, approves with a passkey, and the bank gets a phrh token', { timeout: 30_000 }, async () => {
    const { userId, context, page } = await enrollInBrowser(browser, server, admin, 'payer@example.com');

    const transfer = { type: 'transfer', amount: '500.00', currency: 'EUR', payee: 'ACME <b>Corp</b>' };
    const { auth_req_id } = await bankCall('/backchannel', {
      scope: 'openid',
      login_hint: 'payer@example.com',
      binding_message: 'Transfer 500 EUR to ACME',
      authorization_details: JSON.stringify([transfer]),
    });
    assert.ok(auth_req_id);
    assert.equal((await bankCall('/token', { grant_type: 'urn:openid:params:grant-type:ciba', auth_req_id })).error, 'authorization_pending');

    const mail = server.mailbox.sent.filter((m) => m.to === 'payer@example.com').at(-1)!;
    await page.goto(mail.text.match(/http:\/\/\S+\/approve\/\S+/)![0]);
    await expectPage(page, 'Approve a request from Example Bank');
    assert.equal((await page.locator('#binding-message').textContent())?.trim(), 'Transfer 500 EUR to ACME');
    // The details, readable and inert: the markup in the payee is shown as text.
    const details = page.getByRole('region', { name: 'Transfer' });
    assert.equal((await details.innerText()).replace(/\s+/g, ' ').trim(), 'Transfer Amount: EUR 500.00 To: ACME <b>Corp</b>');
    assert.equal(await details.locator('b').count(), 0);
    await page.getByRole('button', { name: 'Approve' }).click();
    await expectPage(page, 'Request approved');

    const tokens = await bankCall('/token', { grant_type: 'urn:openid:params:grant-type:ciba', auth_req_id });
    const claims = decodeJwt(tokens.id_token!);
    assert.equal(claims.sub, userId);
    assert.equal(claims.acr, 'phrh');
    assert.deepEqual((tokens as unknown as { authorization_details: unknown }).authorization_details, [transfer]);

    // A second request, denied with the button.
    const second = await bankCall('/backchannel', { scope: 'openid', login_hint: userId, binding_message: 'Transfer 9000 EUR to EVIL' });
    const next = server.mailbox.sent.filter((m) => m.to === 'payer@example.com').at(-1)!;
    await page.goto(next.text.match(/http:\/\/\S+\/approve\/\S+/)![0]);
    await page.getByRole('button', { name: 'Deny' }).click();
    await expectPage(page, 'Request denied');
    assert.equal((await bankCall('/token', { grant_type: 'urn:openid:params:grant-type:ciba', auth_req_id: second.auth_req_id! })).error, 'access_denied');
    await context.close();
  });

  it('ping mode: the bank is notified once the person approves in the browser, then fetches the tokens', { timeout: 30_000 }, async () => {
    const { userId, context, page } = await enrollInBrowser(browser, server, admin, 'pinged@example.com');

    const notificationToken = 'pinged-bank-notify-0123456789';
    const { auth_req_id } = await bankCall(
      '/backchannel',
      { scope: 'openid', login_hint: 'pinged@example.com', binding_message: 'Pay 20 EUR to the bakery', client_notification_token: notificationToken },
      pinged,
    );
    assert.ok(auth_req_id);
    const before = receiver.received.length;
    const mail = server.mailbox.sent.filter((m) => m.to === 'pinged@example.com').at(-1)!;
    await page.goto(mail.text.match(/http:\/\/\S+\/approve\/\S+/)![0]);
    await expectPage(page, 'Approve a request from Example Bank');
    assert.equal(receiver.received.length, before, 'no ping before the person decides');
    await page.getByRole('button', { name: 'Approve' }).click();
    await expectPage(page, 'Request approved');

    const ping = await receiver.next(before + 1);
    assert.equal(ping.authorization, `Bearer ${notificationToken}`);
    assert.equal(ping.body.auth_req_id, auth_req_id);
    const tokens = await bankCall('/token', { grant_type: 'urn:openid:params:grant-type:ciba', auth_req_id }, pinged);
    const claims = decodeJwt(tokens.id_token!);
    assert.equal(claims.sub, userId);
    assert.equal(claims.acr, 'phrh');
    await context.close();
  });
});
