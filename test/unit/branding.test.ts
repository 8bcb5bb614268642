/**
 * Operator branding from the environment: product name, logo, brand colours checked for WCAG AA
 * contrast, and the support link; every unusable value refused with the variable to fix.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BRAND_LOGO_MAX_BYTES } from '../../src/config/branding.ts';
import { contrastRatio, readableTextOn } from '../../src/config/colour.ts';
import { ConfigError, loadConfig } from '../../src/config/env.ts';
import { brandStylesheet } from '../../src/http/assets.ts';

const dir = mkdtempSync(join(tmpdir(), 'latchkey-brand-'));
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(32)]);
writeFileSync(join(dir, 'logo.png'), PNG);
writeFileSync(join(dir, 'logo.svg'), '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10"/></svg>');
writeFileSync(join(dir, 'logo.gif'), Buffer.from('GIF89a....'));
writeFileSync(join(dir, 'huge.png'), Buffer.concat([PNG, Buffer.alloc(BRAND_LOGO_MAX_BYTES)]));

function rejected(env: Record<string, string>, variable: string, pattern?: RegExp): void {
  assert.throws(
    () => loadConfig(env, dir),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.equal(error.variable, variable);
      if (pattern) assert.match(error.message, pattern);
      return true;
    },
  );
}

describe('branding configuration', () => {
  it('defaults to the RP name and Latchkey’s own look', () => {
    assert.deepEqual(loadConfig({}, dir).branding, { productName: 'Latchkey' });
    assert.equal(loadConfig({ LATCHKEY_RP_NAME: 'Acme' }, dir).branding.productName, 'Acme');
    assert.equal(loadConfig({ LATCHKEY_RP_NAME: 'Acme', LATCHKEY_PRODUCT_NAME: 'Acme ID' }, dir).branding.productName, 'Acme ID');
    rejected({ LATCHKEY_PRODUCT_NAME: 'x'.repeat(65) }, 'LATCHKEY_PRODUCT_NAME');
  });

  it('takes a logo as an https URL or a local SVG, PNG, JPEG or WebP file of limited size', () => {
    assert.deepEqual(loadConfig({ LATCHKEY_BRAND_LOGO_URL: 'https://cdn.example.com/logo.svg' }, dir).branding.logo, { kind: 'url', url: 'https://cdn.example.com/logo.svg' });
    const png = loadConfig({ LATCHKEY_BRAND_LOGO_URL: 'logo.png' }, dir).branding.logo;
    assert.equal(png?.kind === 'file' && png.type, 'image/png');
    const svg = loadConfig({ LATCHKEY_BRAND_LOGO_URL: join(dir, 'logo.svg') }, '/').branding.logo;
    assert.equal(svg?.kind === 'file' && svg.type, 'image/svg+xml');
    rejected({ LATCHKEY_BRAND_LOGO_URL: 'http://cdn.example.com/logo.png' }, 'LATCHKEY_BRAND_LOGO_URL', /https/);
    rejected({ LATCHKEY_BRAND_LOGO_URL: 'logo.gif' }, 'LATCHKEY_BRAND_LOGO_URL', /not an SVG, PNG, JPEG or WebP/);
    rejected({ LATCHKEY_BRAND_LOGO_URL: 'huge.png' }, 'LATCHKEY_BRAND_LOGO_URL', /at most 256 KB/);
    rejected({ LATCHKEY_BRAND_LOGO_URL: 'missing.png' }, 'LATCHKEY_BRAND_LOGO_URL', /cannot read/);
  });

  it('takes a brand colour whose button text and links keep WCAG AA contrast, with a readable text colour', () => {
    const { light, dark } = loadConfig({ LATCHKEY_BRAND_COLOR: '#0A6E3C' }, dir).branding;
    assert.deepEqual(light, { accent: '#0a6e3c', accentText: '#ffffff' });
    // Too dark for the dark theme's card: that theme keeps the stylesheet's own accent.
    assert.deepEqual(dark, { accent: '#7fb0ff', accentText: '#0b1a33' });
    assert.deepEqual(loadConfig({ LATCHKEY_BRAND_COLOR: '#0a6e3c', LATCHKEY_BRAND_COLOR_DARK: '#5fd39a' }, dir).branding.dark, { accent: '#5fd39a', accentText: '#111111' });
    rejected({ LATCHKEY_BRAND_COLOR: 'green' }, 'LATCHKEY_BRAND_COLOR', /not a hex colour/);
    // Mid-grey: neither white nor black text reaches 4.5:1 on it.
    rejected({ LATCHKEY_BRAND_COLOR: '#777777' }, 'LATCHKEY_BRAND_COLOR', /button text at .*below WCAG AA/);
    // Yellow: black text reads, but yellow links on a white page do not.
    rejected({ LATCHKEY_BRAND_COLOR: '#ffd400' }, 'LATCHKEY_BRAND_COLOR', /against the light page background/);
    rejected({ LATCHKEY_BRAND_COLOR: '#0a6e3c', LATCHKEY_BRAND_COLOR_DARK: '#123456' }, 'LATCHKEY_BRAND_COLOR_DARK', /dark page background/);
  });

  it('serves the colours as design-token overrides for both themes', () => {
    const css = brandStylesheet(loadConfig({ LATCHKEY_BRAND_COLOR: '#0a6e3c', LATCHKEY_BRAND_COLOR_DARK: '#5fd39a' }, dir).branding)!;
    assert.match(css, /^:root \{ --accent: #0a6e3c; --accent-text: #ffffff; \}$/m);
    assert.match(css, /@media \(prefers-color-scheme: dark\) \{ :root \{ --accent: #5fd39a; --accent-text: #111111; \} \}/);
    assert.equal(brandStylesheet({ productName: 'Latchkey' }), undefined);
  });

  it('takes an https or mailto support link', () => {
    assert.equal(loadConfig({ LATCHKEY_SUPPORT_URL: 'https://help.example.com/latchkey' }, dir).branding.supportUrl, 'https://help.example.com/latchkey');
    assert.equal(loadConfig({ LATCHKEY_SUPPORT_URL: 'mailto:help@example.com' }, dir).branding.supportUrl, 'mailto:help@example.com');
    rejected({ LATCHKEY_SUPPORT_URL: 'http://help.example.com' }, 'LATCHKEY_SUPPORT_URL');
    rejected({ LATCHKEY_SUPPORT_URL: 'javascript:alert(1)' }, 'LATCHKEY_SUPPORT_URL');
    rejected({ LATCHKEY_SUPPORT_URL: 'help desk' }, 'LATCHKEY_SUPPORT_URL');
  });

  it('computes WCAG contrast ratios', () => {
    assert.equal(contrastRatio('#ffffff', '#000000'), 21);
    assert.equal(contrastRatio('#777777', '#777777'), 1);
    assert.equal(readableTextOn('#1f5fbf').text, '#ffffff');
    assert.equal(readableTextOn('#ffd400').text, '#111111');
  });
});
