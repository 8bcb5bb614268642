import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { contrastRatio, parseHexColour, readableTextOn } from './colour.ts';
import { ConfigError } from './env.ts';

type Env = Readonly<Record<string, string | undefined>>;

/** An accent colour and the text drawn on it (buttons). */
export interface Palette {
  readonly accent: string;
  readonly accentText: string;
}

/** The operator's logo: a remote https image, or a local file served from /assets/brand-logo. */
export type BrandLogo = { readonly kind: 'url'; readonly url: string } | { readonly kind: 'file'; readonly body: Buffer; readonly type: string };

/** How the pages and mails present the operator: name, logo, colours and where to get help. */
export interface Branding {
  readonly productName: string;
  readonly logo?: BrandLogo;
  /** Accent colours for the light and dark themes; unset: the stylesheet's own. */
  readonly light?: Palette;
  readonly dark?: Palette;
  /** https: or mailto: link shown on every page and in every mail. */
  readonly supportUrl?: string;
}

/** The card backgrounds of style.css: an accent is also link and outline colour on them. */
export const CARD_BACKGROUND = { light: '#ffffff', dark: '#1e2127' } as const;
/** style.css's own dark accent, kept when the brand colour is unreadable on the dark card. */
const DEFAULT_DARK: Palette = { accent: '#7fb0ff', accentText: '#0b1a33' };
/** WCAG 2.2 AA for normal text (1.4.3). */
const AA = 4.5;
/** Largest local logo file served. */
export const BRAND_LOGO_MAX_BYTES = 256 * 1024;

function value(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
}

/**
 * A palette for an accent colour on a card background: the text on buttons is white or black,
 * whichever reads better, and both it and the accent (links, outlines) must meet WCAG AA.
 */
function palette(variable: string, raw: string, card: string, theme: string): Palette {
  const accent = parseHexColour(raw);
  if (!accent) throw new ConfigError(variable, `"${raw}" is not a hex colour such as #1f5fbf`);
  const text = readableTextOn(accent);
  if (text.contrast < AA) {
    throw new ConfigError(variable, `${accent} leaves button text at ${text.contrast.toFixed(2)}:1 contrast, below WCAG AA's ${AA}:1; choose a darker or lighter shade`);
  }
  const onCard = contrastRatio(accent, card);
  if (onCard < AA) {
    throw new ConfigError(
      variable,
      `${accent} is ${onCard.toFixed(2)}:1 against the ${theme} page background ${card} (links and outlines), below WCAG AA's ${AA}:1; choose a ${theme === 'light' ? 'darker' : 'lighter'} shade`,
    );
  }
  return { accent, accentText: text.text };
}

/** Recognises SVG, PNG, JPEG and WebP by their first bytes (never by the file name). */
export function imageType(body: Buffer): string | undefined {
  if (body.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (body[0] === 0xff && body[1] === 0xd8 && body[2] === 0xff) return 'image/jpeg';
  if (body.subarray(0, 4).toString('latin1') === 'RIFF' && body.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp';
  const head = body.subarray(0, 1024).toString('utf8').replace(/^\uFEFF/, '').trimStart();
  if ((head.startsWith('<svg') || head.startsWith('<?xml')) && /<svg[\s>]/.test(head)) return 'image/svg+xml';
  return undefined;
}

function parseLogo(env: Env, cwd: string): BrandLogo | undefined {
  const raw = value(env, 'LATCHKEY_BRAND_LOGO_URL');
  if (raw === undefined) return undefined;
  if (/^[a-z][a-z0-9+.-]*:/i.test(raw) && !/^[a-z]:[\\/]/i.test(raw)) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new ConfigError('LATCHKEY_BRAND_LOGO_URL', `"${raw}" is not a URL; use an https:// URL or a path to a local image file`);
    }
    if (url.protocol !== 'https:') throw new ConfigError('LATCHKEY_BRAND_LOGO_URL', 'must be an https:// URL or a path to a local image file');
    return { kind: 'url', url: url.href };
  }
  const path = resolve(cwd, raw);
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new ConfigError('LATCHKEY_BRAND_LOGO_URL', `cannot read ${path}; give an https:// URL or the path of an SVG, PNG, JPEG or WebP file`);
  }
  if (size > BRAND_LOGO_MAX_BYTES) {
    throw new ConfigError('LATCHKEY_BRAND_LOGO_URL', `${path} is ${Math.ceil(size / 1024)} KB; the logo may be at most ${BRAND_LOGO_MAX_BYTES / 1024} KB`);
  }
  const body = readFileSync(path);
  const type = imageType(body);
  if (!type) throw new ConfigError('LATCHKEY_BRAND_LOGO_URL', `${path} is not an SVG, PNG, JPEG or WebP image`);
  return { kind: 'file', body, type };
}

function parseSupportUrl(env: Env): string | undefined {
  const raw = value(env, 'LATCHKEY_SUPPORT_URL');
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('LATCHKEY_SUPPORT_URL', `"${raw}" is not a URL; use e.g. https://help.example.com or mailto:help@example.com`);
  }
  if (url.protocol === 'mailto:') {
    if (!/^mailto:[^@\s]+@[^@\s]+$/.test(raw)) throw new ConfigError('LATCHKEY_SUPPORT_URL', 'a mailto: link needs one address, e.g. mailto:help@example.com');
    return raw;
  }
  if (url.protocol !== 'https:') throw new ConfigError('LATCHKEY_SUPPORT_URL', 'must be an https:// or mailto: URL');
  return url.href;
}

/** Reads the operator's branding; throws a ConfigError naming the variable at the first unusable value. */
export function parseBranding(env: Env, cwd: string, rpName: string): Branding {
  const productName = value(env, 'LATCHKEY_PRODUCT_NAME') ?? rpName;
  if ([...productName].length > 64 || /[\p{Cc}]/u.test(productName)) {
    throw new ConfigError('LATCHKEY_PRODUCT_NAME', 'must be 1 to 64 printable characters');
  }
  const brandColour = value(env, 'LATCHKEY_BRAND_COLOR');
  const darkColour = value(env, 'LATCHKEY_BRAND_COLOR_DARK');
  const light = brandColour === undefined ? undefined : palette('LATCHKEY_BRAND_COLOR', brandColour, CARD_BACKGROUND.light, 'light');
  let dark: Palette | undefined;
  if (darkColour !== undefined) dark = palette('LATCHKEY_BRAND_COLOR_DARK', darkColour, CARD_BACKGROUND.dark, 'dark');
  else if (light) {
    // Without a dark variant, the brand colour serves the dark theme too if it reads there.
    try {
      dark = palette('LATCHKEY_BRAND_COLOR', light.accent, CARD_BACKGROUND.dark, 'dark');
    } catch {
      dark = DEFAULT_DARK;
    }
  }
  const logo = parseLogo(env, cwd);
  const supportUrl = parseSupportUrl(env);
  return {
    productName,
    ...(logo ? { logo } : {}),
    ...(light ? { light } : {}),
    ...(dark ? { dark } : {}),
    ...(supportUrl ? { supportUrl } : {}),
  };
}
