/**
 * Screenshots of every hosted page at a phone and a desktop width, in the light and the dark
 * theme, saved under test/artifacts/screenshots/ (git-ignored; CI keeps them as artifacts) for a
 * person to look at. While at it, checks what a picture would show but axe does not: no page
 * scrolls sideways (WCAG 1.4.10 reflow), down to a 320 px phone.
 *
 * Files: test/artifacts/screenshots/<page>-<phone|desktop>-<light|dark>.png, and the sign-in
 * page in the other languages as sign-in-<de|es>-<phone|desktop>-<light|dark>.png, and with an
 * operator's branding as brand-sign-in-<phone|desktop|narrowest>-<light|dark>.png
 *
 * Run: node --import tsx --test test/browser/screenshots.test.ts
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import type { TestServer } from '../helpers/app.ts';
import {
  browserUnavailable,
  startBrowserSuite,
  stopBrowserSuite,
  type CallbackServer,
} from './helpers.ts';
import { STOPS, WALK_CLIENT_METADATA, WALK_CLIENTS, walkHostedPages } from './hosted-pages.ts';
import type { Page } from 'playwright-core';
import { authorizationRequest } from '../helpers/rp.ts';
import { disablePasskeyAutofill, expectPage, newContext } from './helpers.ts';

export const SCREENSHOT_DIR = fileURLToPath(new URL('../artifacts/screenshots/', import.meta.url));

const VIEWPORTS = {
  phone: { width: 375, height: 812 },
  desktop: { width: 1280, height: 800 },
} as const;
/** The narrowest width the pages must fit without sideways scrolling (checked, not saved). */
const NARROWEST = { width: 320, height: 640 };
const THEMES = ['light', 'dark'] as const;

describe('screenshots of the hosted pages', { skip: browserUnavailable }, () => {
  let server: TestServer;
  let app: CallbackServer;
  let rp: oidc.Configuration;
  let browser: Browser;

  before(async () => {
    ({ server, app, rp, browser } = await startBrowserSuite({ ...WALK_CLIENT_METADATA }, { clients: WALK_CLIENTS }));
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
  });

  after(async () => {
    await stopBrowserSuite({ server, app, browser });
  });

  /** Saves the page at both widths in both themes; returns the files, and any width at which it scrolls sideways. */
  async function shoot(name: string, page: Page): Promise<{ saved: string[]; overflows: string[] }> {
    const saved: string[] = [];
    const overflows: string[] = [];
    {
      const original = page.viewportSize();
      for (const colorScheme of THEMES) {
        await page.emulateMedia({ colorScheme });
        for (const [device, size] of Object.entries(VIEWPORTS)) {
          await page.setViewportSize(size);
          const file = join(SCREENSHOT_DIR, `${name}-${device}-${colorScheme}.png`);
          await page.screenshot({ path: file, fullPage: true, animations: 'disabled', caret: 'hide' });
          saved.push(file);
        }
      }
      for (const size of [NARROWEST, VIEWPORTS.phone]) {
        await page.setViewportSize(size);
        const { scrollWidth, clientWidth } = await page.evaluate('({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth })') as { scrollWidth: number; clientWidth: number };
        if (scrollWidth > clientWidth) overflows.push(`${name} at ${size.width}px: ${scrollWidth}px wide`);
      }
      await page.emulateMedia({ colorScheme: 'light' });
      if (original) await page.setViewportSize(original);
    }
    return { saved, overflows };
  }

  it('saves every page at phone and desktop widths in both themes; none scrolls sideways', { timeout: 120_000 }, async () => {
    const saved: string[] = [];
    const overflows: string[] = [];
    await walkHostedPages({ browser, server, app, rp }, async ({ name, page }) => {
      const shot = await shoot(name, page);
      saved.push(...shot.saved);
      overflows.push(...shot.overflows);
    });
    assert.equal(saved.length, STOPS.length * THEMES.length * Object.keys(VIEWPORTS).length);
    assert.deepEqual(overflows, [], 'pages that scroll sideways');
  });

  it('saves the sign-in page in German and Spanish; longer words do not make it scroll sideways', { timeout: 60_000 }, async () => {
    const context = await newContext(browser);
    await disablePasskeyAutofill(context);
    const overflows: string[] = [];
    try {
      for (const [locale, heading] of [['de', 'Anmelden'], ['es', 'Iniciar sesión']] as const) {
        const page = await context.newPage();
        await page.goto((await authorizationRequest(rp, { redirect_uri: app.redirectUri, ui_locales: locale })).url.href);
        await expectPage(page, heading);
        await page.waitForLoadState('load');
        overflows.push(...(await shoot(`sign-in-${locale}`, page)).overflows);
        await page.close();
      }
    } finally {
      await context.close();
    }
    assert.deepEqual(overflows, [], 'pages that scroll sideways');
  });
});

describe('screenshots of a branded sign-in', { skip: browserUnavailable }, () => {
  let suite: Awaited<ReturnType<typeof startBrowserSuite>>;
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-brand-'));

  before(async () => {
    // A wide logo: it must keep its proportions and leave room for the name on a 320 px phone.
    writeFileSync(
      join(dir, 'logo.svg'),
      '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 240 40"><rect width="240" height="40" rx="6" fill="#0a6e3c"/><text x="120" y="27" font-family="sans-serif" font-size="20" fill="#fff" text-anchor="middle">ACME</text></svg>',
    );
    suite = await startBrowserSuite(
      { ...WALK_CLIENT_METADATA, client_name: 'Acme Online Banking for Business Customers' },
      { env: { LATCHKEY_PRODUCT_NAME: 'Acme Identity', LATCHKEY_BRAND_LOGO_URL: join(dir, 'logo.svg'), LATCHKEY_BRAND_COLOR: '#0a6e3c', LATCHKEY_BRAND_COLOR_DARK: '#5fd39a', LATCHKEY_SUPPORT_URL: 'mailto:help@acme.example' } },
    );
  });
  after(async () => {
    await stopBrowserSuite(suite);
  });

  it('saves the branded sign-in page (brand-sign-in-*); it does not scroll sideways', { timeout: 60_000 }, async () => {
    const context = await newContext(suite.browser);
    await disablePasskeyAutofill(context);
    try {
      const page = await context.newPage();
      await page.goto((await authorizationRequest(suite.rp, { redirect_uri: suite.app.redirectUri, ui_locales: 'de' })).url.href);
      await expectPage(page, 'Anmelden');
      await page.waitForLoadState('load');
      const overflows: string[] = [];
      for (const colorScheme of THEMES) {
        await page.emulateMedia({ colorScheme });
        for (const [device, size] of [...Object.entries(VIEWPORTS), ['narrowest', NARROWEST] as const]) {
          await page.setViewportSize(size);
          await page.screenshot({ path: join(SCREENSHOT_DIR, `brand-sign-in-${device}-${colorScheme}.png`), fullPage: true, animations: 'disabled', caret: 'hide' });
          const { scrollWidth, clientWidth } = (await page.evaluate('({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth })')) as { scrollWidth: number; clientWidth: number };
          if (scrollWidth > clientWidth) overflows.push(`${device} ${colorScheme}: ${scrollWidth}px wide`);
        }
      }
      assert.deepEqual(overflows, []);
    } finally {
      await context.close();
    }
  });
});
