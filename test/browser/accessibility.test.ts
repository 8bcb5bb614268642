/**
 * Accessibility of the hosted pages in a real browser: axe-core (WCAG 2.0/2.1/2.2 A and AA
 * rules) on every page a person can reach, in the light and the dark theme; the sign-in page
 * completed with the keyboard alone; a visible focus indicator; and, since axe does not check
 * it, 3:1 contrast of form controls' edges (WCAG 1.4.11).
 *
 * axe is evaluated in the page through DevTools, not added as a <script> element: the pages'
 * CSP (script-src 'self') rightly refuses inline scripts, and the audit should see the pages as
 * they are served.
 *
 * Run: node --import tsx --test test/browser/accessibility.test.ts
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import type * as oidc from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { TestServer } from '../helpers/app.ts';
import { authorizationRequest, redeem } from '../helpers/rp.ts';
import {
  addCredentials,
  addVirtualAuthenticator,
  alertText,
  assertVisibleFocus,
  browserUnavailable,
  describeFocused,
  disablePasskeyAutofill,
  expectSignInPage,
  focusedElement,
  newContext,
  signUp,
  startBrowserSuite,
  stopBrowserSuite,
  waitForApplication,
  type CallbackServer,
} from './helpers.ts';
import { STOPS, WALK_CLIENT_METADATA, WALK_CLIENTS, walkHostedPages } from './hosted-pages.ts';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
const THEMES = ['light', 'dark'] as const;

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  helpUrl: string;
  nodes: { target: unknown[]; failureSummary?: string }[];
}

/** Runs axe on the page as it is now; returns its violations. */
async function audit(page: Page): Promise<AxeViolation[]> {
  const loaded = await page.evaluate(() => typeof (window as unknown as { axe?: unknown }).axe === 'object');
  if (!loaded) await page.evaluate(AXE_SOURCE);
  // A string, not a function: tsx would compile a function with helpers the page lacks.
  return page.evaluate(`(async () => {
    const result = await axe.run(document, { runOnly: { type: 'tag', values: ${JSON.stringify(WCAG_TAGS)} }, resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({ target: n.target, failureSummary: n.failureSummary })),
    }));
  })()`);
}

/**
 * WCAG 1.4.11 (non-text contrast), which axe does not check: every visible, enabled form control
 * stands out from what is behind it by 3:1, through its border or its own background. Link-styled
 * buttons are text (axe checks their colour). Returns one line per control that does not.
 */
async function weakControls(page: Page): Promise<string[]> {
  return page.evaluate(`(() => {
    const rgb = (value) => { const m = value.match(/[\\d.]+/g) || []; return { r: +m[0], g: +m[1], b: +m[2], a: m[3] === undefined ? 1 : +m[3] }; };
    const luminance = ({ r, g, b }) => { const c = [r, g, b].map((v) => v / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)); return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]; };
    const contrast = (x, y) => { const [a, b] = [luminance(x), luminance(y)].sort((p, q) => q - p); return (a + 0.05) / (b + 0.05); };
    const behind = (element) => { for (let e = element.parentElement; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.a > 0) return c; } return { r: 255, g: 255, b: 255, a: 1 }; };
    const weak = [];
    for (const control of document.querySelectorAll('input:not([type=hidden]), button:not(.link), select, textarea')) {
      if (control.disabled || control.getClientRects().length === 0) continue;
      const style = getComputedStyle(control);
      const surround = behind(control);
      const border = parseFloat(style.borderTopWidth) > 0 && style.borderTopStyle !== 'none' ? contrast(rgb(style.borderTopColor), surround) : 0;
      const fill = rgb(style.backgroundColor).a > 0 ? contrast(rgb(style.backgroundColor), surround) : 0;
      const best = Math.max(border, fill);
      if (best < 3) weak.push(control.tagName.toLowerCase() + ' "' + (control.textContent.trim() || control.id || control.name) + '": ' + best.toFixed(2) + ':1');
    }
    return weak;
  })()`);
}

function describeViolations(where: string, violations: AxeViolation[]): string[] {
  return violations.flatMap((v) =>
    v.nodes.map((node) => `${where}: ${v.id} (${v.impact}) at ${JSON.stringify(node.target)}: ${v.help} [${v.helpUrl}]${node.failureSummary ? `\n    ${node.failureSummary.replace(/\n/g, '\n    ')}` : ''}`),
  );
}

describe('accessibility of the hosted pages', { skip: browserUnavailable }, () => {
  let server: TestServer;
  let app: CallbackServer;
  let rp: oidc.Configuration;
  let browser: Browser;

  before(async () => {
    ({ server, app, rp, browser } = await startBrowserSuite({ ...WALK_CLIENT_METADATA }, { clients: WALK_CLIENTS }));
  });

  after(async () => {
    await stopBrowserSuite({ server, app, browser });
  });

  it('every hosted page passes axe (WCAG 2.2 A/AA) in the light and the dark theme', { timeout: 120_000 }, async () => {
    const problems: string[] = [];
    const visited: string[] = [];
    await walkHostedPages({ browser, server, app, rp }, async ({ name, page }) => {
      visited.push(name);
      for (const colorScheme of THEMES) {
        await page.emulateMedia({ colorScheme });
        problems.push(...describeViolations(`${name} (${colorScheme})`, await audit(page)));
        problems.push(...(await weakControls(page)).map((control) => `${name} (${colorScheme}): non-text-contrast (WCAG 1.4.11) at ${control}, needs 3:1`));
      }
      await page.emulateMedia({ colorScheme: 'light' });
    });
    assert.deepEqual(visited, [...STOPS], 'the walk reached every page');
    assert.equal(problems.length, 0, `${problems.length} accessibility violation(s):\n${problems.join('\n')}`);
  });

  it('signs in with the keyboard alone (a failed try returns the focus), and the focused control shows a visible focus indicator', { timeout: 30_000 }, async () => {
    const contexts: BrowserContext[] = [];
    try {
      // A person who signed up earlier, on another device.
      const first = await newContext(browser);
      contexts.push(first);
      await disablePasskeyAutofill(first);
      const signUpPage = await first.newPage();
      const authenticator = await addVirtualAuthenticator(signUpPage);
      const signUpRequest = await authorizationRequest(rp, { redirect_uri: app.redirectUri });
      await signUpPage.goto(signUpRequest.url.href);
      await signUp(signUpPage, server, app, 'keys@example.com');
      const credentials = await authenticator.credentials();

      const context = await newContext(browser);
      contexts.push(context);
      await disablePasskeyAutofill(context);
      const page = await context.newPage();
      // The passkey is not on this device yet: the first try fails.
      const device = await addVirtualAuthenticator(page);
      const request = await authorizationRequest(rp, { redirect_uri: app.redirectUri });
      await page.goto(request.url.href);
      await expectSignInPage(page, server);

      const focused = () => focusedElement(page);

      // Tab to "Sign in with a passkey", seeing a focus ring on every control on the way.
      const path: string[] = [];
      let target = null;
      for (let i = 0; i < 10 && !target; i++) {
        await page.keyboard.press('Tab');
        const element = await focused();
        assertVisibleFocus(element);
        path.push(describeFocused(element));
        if (element.tag === 'button' && element.text === 'Sign in with a passkey') target = element;
      }
      assert.ok(target, `Tab reaches "Sign in with a passkey" (focus went: ${path.join(' → ')})`);

      // A failed try is announced, and the focus is back on the button to try again.
      await page.keyboard.press('Enter');
      assert.match(await alertText(page), /No passkey was used/);
      // Polled from here: page.waitForFunction() with a string needs eval, which the CSP refuses.
      let refocused = null;
      for (const deadline = Date.now() + 2_000; Date.now() < deadline && !refocused; await page.waitForTimeout(50)) {
        const element = await focused();
        if (element?.tag === 'button' && element.text === 'Sign in with a passkey') refocused = element;
      }
      assert.ok(refocused, `the focus returns to "Sign in with a passkey" after a failure (it is on ${JSON.stringify(await focused())})`);

      await addCredentials(device, credentials);
      await page.keyboard.press('Enter');
      // Consent may be asked again for this new session: answer it with the keyboard too.
      const atApplication = page.waitForURL((url) => url.origin === app.origin && url.pathname === '/callback').then(() => 'application' as const);
      const atConsent = page.getByRole('heading', { level: 1, name: /^Allow / }).waitFor().then(() => 'consent' as const);
      atApplication.catch(() => undefined);
      atConsent.catch(() => undefined);
      if ((await Promise.race([atApplication, atConsent])) === 'consent') {
        let onAllow = false;
        for (let i = 0; i < 10 && !onAllow; i++) {
          await page.keyboard.press('Tab');
          const element = await focused();
          onAllow = element?.tag === 'button' && element.text === 'Allow';
        }
        assert.ok(onAllow, 'Tab reaches "Allow" on the consent page');
        await page.keyboard.press('Enter');
      }
      const callback = await waitForApplication(page, app);
      const claims = (await redeem(rp, request, callback.href)).claims()!;
      assert.equal(claims.acr, 'phrh', 'signed in with the passkey');
    } finally {
      await Promise.all(contexts.map((context) => context.close()));
    }
  });
});
