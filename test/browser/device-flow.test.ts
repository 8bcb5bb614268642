/**
 * The device authorization grant with the person in a real browser: the TV shows a code and a
 * link with the code in it (verification_uri_complete); the person opens it on their phone,
 * confirms, signs in with a passkey and allows the TV. Headless Chromium with a virtual WebAuthn
 * authenticator; the person was onboarded with an enrollment link.
 *
 * Run: node --import tsx --test test/browser/device-flow.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import type { ClientMetadata } from 'oidc-provider';
import type { Browser } from 'playwright-core';
import { apiClient } from '../helpers/api.ts';
import { startLatchkey, type TestServer } from '../helpers/app.ts';
import { browserUnavailable, enrollInBrowser, expectPage, launchBrowser } from './helpers.ts';

const admin = apiClient('onboarding', 'users:write enrollments:write');
const tv: ClientMetadata = {
  client_id: 'living-room-tv',
  client_name: 'Living Room TV',
  token_endpoint_auth_method: 'none',
  grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
  response_types: [],
  redirect_uris: [],
};

describe('device flow in the browser', { skip: browserUnavailable }, () => {
  let server: TestServer;
  let browser: Browser;

  before(async () => {
    server = await startLatchkey({ clients: [admin, tv] });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  async function device(path: string, params: Record<string, string>) {
    const response = await fetch(server.url(path), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: tv.client_id, ...params }),
    });
    return (await response.json()) as Record<string, string>;
  }

  it('the person opens the TV’s link, confirms the code, signs in with a passkey, and the TV gets a phrh token', { timeout: 30_000 }, async () => {
    const { userId, context, page } = await enrollInBrowser(browser, server, admin, 'viewer@example.com');

    const started = await device('/device/auth', { scope: 'openid email' });
    await page.goto(started.verification_uri_complete!);
    await expectPage(page, 'Connect Living Room TV?');
    assert.ok((await page.locator('p.user-code').textContent())?.includes(started.user_code!));
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await expectPage(page, /Allow/);
    await page.getByRole('button', { name: 'Allow' }).click();
    await expectPage(page, 'Device connected');

    const tokens = await device('/token', { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: started.device_code! });
    const claims = decodeJwt(tokens.id_token!);
    assert.equal(claims.sub, userId);
    assert.equal(claims.acr, 'phrh');
    await context.close();
  });
});
