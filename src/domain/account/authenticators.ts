import type { AuthenticatorTransport } from '@simplewebauthn/server';

/** What an AAGUID metadata file says about one authenticator model. */
export interface AuthenticatorModel {
  readonly name: string;
  /** Icons, only ever `data:image/…;base64,` URIs (the CSP allows no other image source). */
  readonly iconLight?: string;
  readonly iconDark?: string;
}

/** The AAGUID most passkey providers send with attestation `none`: it names nothing. */
const ZERO_AAGUID = '00000000-0000-0000-0000-000000000000';
const AAGUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAX_NAME = 100;
const MAX_ICON = 100_000;
// Raster formats and SVG; SVG is safe here because the pages only ever show it through <img>,
// where scripts inside it never run.
/** Transports of authenticators that are carried around: security keys. */
const ROAMING = new Set<string>(['usb', 'nfc', 'ble', 'smart-card']);
const DATA_IMAGE = /^data:image\/(?:png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/]+={0,2}$/;

/**
 * Authenticator model names by AAGUID, from a metadata file in the community format
 * `{ "<aaguid>": { "name", "icon_dark", "icon_light" } }`. The file is the operator's choice,
 * but its contents are still treated as untrusted: names are trimmed and bounded, and icons
 * that are not data: image URIs are dropped.
 */
export class AuthenticatorCatalog {
  private constructor(private readonly models: ReadonlyMap<string, AuthenticatorModel>) {}

  static readonly empty = new AuthenticatorCatalog(new Map());

  /** Parses the file's JSON; throws an Error saying what is wrong with it. */
  static parse(json: unknown): AuthenticatorCatalog {
    if (!json || typeof json !== 'object' || Array.isArray(json)) {
      throw new Error('expected a JSON object mapping AAGUIDs to { "name", "icon_dark", "icon_light" }');
    }
    const models = new Map<string, AuthenticatorModel>();
    for (const [key, entry] of Object.entries(json as Record<string, unknown>)) {
      const aaguid = key.toLowerCase();
      if (!AAGUID.test(aaguid)) throw new Error(`"${key.slice(0, 60)}" is not an AAGUID (8-4-4-4-12 hex digits)`);
      const { name, icon_light: light, icon_dark: dark } = (entry ?? {}) as Record<string, unknown>;
      if (typeof name !== 'string' || name.trim() === '') throw new Error(`entry ${key} has no "name"`);
      models.set(aaguid, {
        name: name.trim().slice(0, MAX_NAME),
        ...(safeIcon(light) ? { iconLight: light as string } : {}),
        ...(safeIcon(dark) ? { iconDark: dark as string } : {}),
      });
    }
    return new AuthenticatorCatalog(models);
  }

  /** This catalog with more models added; models it already names keep their entry. */
  withFallback(models: Iterable<{ readonly aaguid: string } & AuthenticatorModel>): AuthenticatorCatalog {
    const merged = new Map<string, AuthenticatorModel>();
    for (const { aaguid, name, iconLight, iconDark } of models) {
      const key = aaguid.toLowerCase();
      if (!AAGUID.test(key) || name.trim() === '') continue;
      merged.set(key, {
        name: name.trim().slice(0, MAX_NAME),
        ...(safeIcon(iconLight) ? { iconLight } : {}),
        ...(safeIcon(iconDark) ? { iconDark } : {}),
      });
    }
    for (const [aaguid, model] of this.models) merged.set(aaguid, model);
    return new AuthenticatorCatalog(merged);
  }

  get size(): number {
    return this.models.size;
  }

  lookup(aaguid: string): AuthenticatorModel | undefined {
    const key = aaguid.toLowerCase();
    return key === ZERO_AAGUID ? undefined : this.models.get(key);
  }
}

function safeIcon(value: unknown): boolean {
  return typeof value === 'string' && value.length <= MAX_ICON && DATA_IMAGE.test(value);
}

/**
 * The model to show for a passkey: the metadata's name when the AAGUID is known, otherwise
 * what the browser itself reported (a roaming transport means a security key), or "Passkey".
 */
export function describeModel(
  passkey: { readonly aaguid: string; readonly transports: readonly AuthenticatorTransport[] },
  catalog: AuthenticatorCatalog,
): AuthenticatorModel {
  const known = catalog.lookup(passkey.aaguid);
  if (known) return known;
  const roaming = passkey.transports.some((t) => ROAMING.has(t));
  if (roaming && !passkey.transports.includes('internal')) return { name: 'Security key' };
  return { name: 'Passkey' };
}
