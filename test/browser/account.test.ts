/**
 * The account page in a real browser: headless Chromium with virtual WebAuthn authenticators,
 * driven by roles and accessible names. Proves account.js: "Add a passkey" goes through
 * re-authentication when needed, and after a removal the page calls the WebAuthn Signal API.
 *
 * Run: node --import tsx --test test/browser/account.test.ts
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startLatchkey, type TestServer } from '../helpers/app.ts';
import {
  addVirtualAuthenticator,
  browserUnavailable,
  disablePasskeyAutofill,
  expectPage,
  expectSignInPage,
  launchBrowser,
  newContext,
  signUpUntilPasskey,
} from './helpers.ts';

const TEST_TIMEOUT = 30_000;

/** Replaces the Signal API with a recorder (Chromium may or may not have it), so the test sees each call. */
const RECORD_SIGNALS = `(() => {
  window.__signals = [];
  for (const name of ['signalUnknownCredential', 'signalAllAcceptedCredentials']) {
    PublicKeyCredential[name] = async (options) => { window.__signals.push({ name, options }); };
  }
})();`;

interface SignalCall {
  name: string;
  options: { rpId: string; credentialId?: string; userId?: string; allAcceptedCredentialIds?: string[] };
}

describe('account page in the browser', { skip: browserUnavailable }, () => {
  let server: TestServer;
  let browser: Browser;
  let contexts: BrowserContext[] = [];

  before(async () => {
    server = await startLatchkey();
    browser = await launchBrowser();
  });
  afterEach(async () => {
    await Promise.all(contexts.map((context) => context.close()));
    contexts = [];
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  async function freshPage(): Promise<Page> {
    const context = await newContext(browser);
    contexts.push(context);
    await disablePasskeyAutofill(context);
    await context.addInitScript({ content: RECORD_SIGNALS });
    return context.newPage();
  }

  const signalCalls = (page: Page) => page.evaluate(() => (window as unknown as { __signals: SignalCall[] }).__signals);
  const passkeyItem = (page: Page, name: string) =>
    page.getByRole('listitem').filter({ has: page.getByRole('heading', { level: 3, name, exact: true }) });

  it('signs up on the account page, confirms with a passkey to add another, renames and removes it', { timeout: TEST_TIMEOUT }, async () => {
    const page = await freshPage();
    const first = await addVirtualAuthenticator(page);
    const email = 'browser@example.com';

    await page.goto(server.url('/account'));
    await expectSignInPage(page, server);
    await signUpUntilPasskey(page, server, email);
    await expectPage(page, 'Your account');
    await page.getByText(`Signed in as ${email}`).waitFor();
    assert.equal(await page.getByRole('listitem').filter({ has: page.getByRole('button', { name: 'Remove' }) }).count(), 1);

    // Just signed up: the session rests on the email code, so adding a passkey asks for one first.
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await expectPage(page, 'Confirm it’s you');
    await page.getByRole('button', { name: 'Confirm with a passkey' }).click();
    await expectPage(page, 'Your account');
    await page.getByRole('status').filter({ hasText: 'Thanks for confirming it’s you' }).waitFor();

    // The new passkey is made by another authenticator (this one holds an excluded credential).
    await first.cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: first.authenticatorId });
    const second = await addVirtualAuthenticator(page, { defaultBackupEligibility: true, defaultBackupState: true });
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByRole('status').filter({ hasText: 'Passkey added' }).waitFor();
    assert.equal((await second.credentials()).length, 1);
    assert.ok(server.mailbox.sent.some((m) => m.to === email && /passkey was added/.test(m.subject)));
    const items = page.getByRole('listitem').filter({ has: page.getByRole('button', { name: 'Remove' }) });
    assert.equal(await items.count(), 2);

    // Rename the new one (the second in the list) by its visible label.
    const newItem = items.nth(1);
    await newItem.getByLabel('Passkey name').fill('Laptop <b>work</b>');
    await newItem.getByRole('button', { name: 'Rename' }).click();
    await page.getByRole('status').filter({ hasText: 'Passkey renamed' }).waitFor();
    const laptop = passkeyItem(page, 'Laptop <b>work</b>');
    assert.equal(await laptop.getByText('Synced', { exact: true }).count(), 1);

    // Remove it: the page then tells the password manager, through the Signal API.
    const removedId = Buffer.from((await second.credentials())[0]!.credentialId, 'base64').toString('base64url');
    const keptId = (await server.db('passkeys').whereNot({ id: removedId }).first('id')).id as string;
    await laptop.getByRole('button', { name: 'Remove' }).click();
    await page.getByRole('status').filter({ hasText: 'Passkey removed' }).waitFor();
    assert.equal(await passkeyItem(page, 'Laptop <b>work</b>').count(), 0);
    await page.waitForFunction(() => (window as unknown as { __signals: unknown[] }).__signals.length >= 2);
    const calls = await signalCalls(page);
    assert.deepEqual(calls.find((c) => c.name === 'signalUnknownCredential')?.options, { rpId: 'localhost', credentialId: removedId });
    const all = calls.find((c) => c.name === 'signalAllAcceptedCredentials')?.options;
    assert.deepEqual(all?.allAcceptedCredentialIds, [keptId]);
    assert.equal(all?.userId, (await server.db('accounts').where({ email }).first('user_handle')).user_handle);

    // Sign out of this browser's own session from the list.
    await page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: 'This browser' }) }).getByRole('button', { name: 'Sign out of this session' }).click();
    await expectPage(page, 'You are signed out');
  });
});
