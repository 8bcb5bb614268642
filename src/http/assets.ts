import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import Router from '@koa/router';
import type { Branding } from '../config/branding.ts';
import { viewsDir } from '../paths.ts';

const require = createRequire(import.meta.url);

/** Every file the pages load, by public name: a fixed list, read once, so no path is ever taken from a URL. */
function assetFiles(): Record<string, { file: string; type: string }> {
  const own = (name: string, type: string) => ({ file: join(viewsDir, 'assets', name), type });
  return {
    'style.css': own('style.css', 'text/css; charset=utf-8'),
    'common.js': own('common.js', 'text/javascript; charset=utf-8'),
    'login.js': own('login.js', 'text/javascript; charset=utf-8'),
    'create-passkey.js': own('create-passkey.js', 'text/javascript; charset=utf-8'),
    'approve.js': own('approve.js', 'text/javascript; charset=utf-8'),
    'account.js': own('account.js', 'text/javascript; charset=utf-8'),
    'account.css': own('account.css', 'text/css; charset=utf-8'),
    'simplewebauthn-browser.js': {
      // The package exports no subpaths: find its folder from its main entry.
      file: join(dirname(require.resolve('@simplewebauthn/browser')), '..', 'dist', 'bundle', 'index.umd.min.js'),
      type: 'text/javascript; charset=utf-8',
    },
  };
}

/** Where the pages load the operator's logo from: its https URL, or the local file served here. */
export const BRAND_LOGO_PATH = '/assets/brand-logo';
export const BRAND_STYLESHEET_PATH = '/assets/brand.css';

/** The operator's colours as overrides of style.css's design tokens (a stylesheet: the CSP forbids inline styles). */
export function brandStylesheet(branding: Branding): string | undefined {
  if (!branding.light && !branding.dark) return undefined;
  const tokens = (p: { accent: string; accentText: string }) => `--accent: ${p.accent}; --accent-text: ${p.accentText};`;
  return [
    '/* Generated from LATCHKEY_BRAND_COLOR and LATCHKEY_BRAND_COLOR_DARK. */',
    ...(branding.light ? [`:root { ${tokens(branding.light)} }`] : []),
    ...(branding.dark ? [`@media (prefers-color-scheme: dark) { :root { ${tokens(branding.dark)} } }`] : []),
    '',
  ].join('\n');
}

export function assetsRouter(branding?: Branding): Router {
  const router = new Router({ prefix: '/assets' });
  const cache = new Map<string, { body: Buffer; type: string }>();
  for (const [name, { file, type }] of Object.entries(assetFiles())) cache.set(name, { body: readFileSync(file), type });
  const stylesheet = branding && brandStylesheet(branding);
  if (stylesheet) cache.set('brand.css', { body: Buffer.from(stylesheet), type: 'text/css; charset=utf-8' });
  if (branding?.logo?.kind === 'file') cache.set('brand-logo', { body: branding.logo.body, type: branding.logo.type });
  router.get('/:name', (ctx) => {
    const asset = cache.get(ctx.params.name!);
    if (!asset) return;
    ctx.type = asset.type;
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = asset.body;
  });
  return router;
}
