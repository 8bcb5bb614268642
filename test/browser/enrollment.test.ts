/**
 * An enrollment link opened in a real browser: headless Chromium with a virtual WebAuthn
 * authenticator, the link created through the management API as a backend would. Pages are
 * driven only by roles and accessible names.
 *
 * Run: node --import tsx --test test/browser/enrollment.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { api, apiClient, apiToken } from '../helpers/api.ts';
import { startLatchkey, type TestServer } from '../helpers/app.ts';
import { addVirtualAuthenticator, browserUnavailable, disablePasskeyAutofill, expectPage, launchBrowser, newContext } from './helpers.ts';

const backend = { ...apiClient('onboarding', 'users:write enrollments:write'), client_name: 'Acme HR' };

describe('enrollment link in the browser', { skip: browserUnavailable }, () => {
  let server: TestServer;
  let browser: Browser;
  let token: string;

  before(async () => {
    server = await startLatchkey({ clients: [backend] });
    token = await apiToken(server, backend, 'users:write enrollments:write');
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('the invited person opens the link, sees who invited them, and creates a passkey; the link then shows as used', { timeout: 30_000 }, async () => {
    const user = (await (await api(server, token, 'POST', '/users', { email: 'new.hire@example.com' })).json()) as { id: string };
    const link = (await (await api(server, token, 'POST', `/users/${user.id}/enrollment-links`, { authenticator_attachment: 'platform' })).json()) as { id: string; url: string };

    const context = await newContext(browser);
    await disablePasskeyAutofill(context);
    const page = await context.newPage();
    const authenticator = await addVirtualAuthenticator(page);
    await page.goto(link.url);
    await expectPage(page, 'Create a passkey');
    assert.match((await page.locator('p.lead').textContent()) ?? '', /Acme HR invited you to create a passkey for new\.hire@example\.com/);
    await page.getByRole('button', { name: 'Create a passkey' }).click();
    await expectPage(page, 'Your passkey is ready');

    const [credential, ...others] = await authenticator.credentials();
    assert.ok(credential);
    assert.equal(others.length, 0);
    const status = (await (await api(server, token, 'GET', `/enrollment-links/${link.id}`)).json()) as { status: string; passkey_id: string };
    assert.equal(status.status, 'completed');
    assert.equal(Buffer.from(status.passkey_id, 'base64url').toString('base64'), credential.credentialId);

    // The same link again: a clear page, announced, and nothing to click.
    await page.goto(link.url);
    await expectPage(page, 'Something went wrong');
    assert.match((await page.getByRole('alert').textContent()) ?? '', /already used/);
    assert.equal(await page.getByRole('button', { name: 'Create a passkey' }).count(), 0);
    await context.close();
  });
});
