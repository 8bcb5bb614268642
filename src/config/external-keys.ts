import { createHash, createPrivateKey, type JsonWebKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { KeyMaterial } from '../storage/repositories/keys.ts';
import { ConfigError } from './env.ts';

/**
 * Keys an operator manages outside Latchkey's database (a secrets manager writing a file, or
 * the environment), instead of `latchkey keys rotate/promote/retire`:
 *
 * - LATCHKEY_SIGNING_KEYS_FILE: a JWKS of private keys (ES256 on P-256, RS256 of at least
 *   2048 bits, each with a unique `kid`). The first key of each algorithm signs; the others
 *   are only published, so a rotation is: add the new key after the current one (published,
 *   not used), then move it first (it signs), then remove the old one once what it signed has
 *   expired. Every node re-reads the file each LATCHKEY_KEY_RELOAD_INTERVAL seconds.
 * - LATCHKEY_COOKIE_SECRETS: comma-separated secrets of at least 32 characters; the first
 *   signs cookies, the others are still accepted (rotation: prepend a new one, drop the last
 *   later). Read at start.
 */
export interface ExternalKeys {
  readonly signingKeysFile?: string;
  readonly cookieSecrets?: readonly string[];
}

const SIGNING_FILE = 'LATCHKEY_SIGNING_KEYS_FILE';

/** Reads and checks the signing keys file; throws a ConfigError that says what to fix. */
export function readSigningKeysFile(path: string): JsonWebKey[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(SIGNING_FILE, `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not the parser's message: it quotes the text around the error, which holds private keys.
    throw new ConfigError(SIGNING_FILE, `cannot read ${path} as JSON (not valid JSON)`);
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new ConfigError(SIGNING_FILE, 'must be a JWKS: {"keys": [ … private JWKs … ]}');
  const kids = new Set<string>();
  for (const [i, key] of (keys as JsonWebKey[]).entries()) {
    const where = `key ${i + 1}`;
    if (typeof key.kid !== 'string' || key.kid.length === 0 || kids.has(key.kid)) throw new ConfigError(SIGNING_FILE, `${where}: needs a unique "kid"`);
    kids.add(key.kid);
    if (key.alg !== 'ES256' && key.alg !== 'RS256') throw new ConfigError(SIGNING_FILE, `${where} (${key.kid}): "alg" must be ES256 or RS256`);
    if (typeof key.d !== 'string') throw new ConfigError(SIGNING_FILE, `${where} (${key.kid}): must be a private key (with "d")`);
    let details: { namedCurve?: string; modulusLength?: number } | undefined;
    try {
      details = createPrivateKey({ key, format: 'jwk' }).asymmetricKeyDetails;
    } catch {
      throw new ConfigError(SIGNING_FILE, `${where} (${key.kid}): not a usable key`);
    }
    if (key.alg === 'ES256' && (key.kty !== 'EC' || details?.namedCurve !== 'prime256v1')) throw new ConfigError(SIGNING_FILE, `${where} (${key.kid}): ES256 needs an EC P-256 key`);
    if (key.alg === 'RS256' && (key.kty !== 'RSA' || (details?.modulusLength ?? 0) < 2048)) throw new ConfigError(SIGNING_FILE, `${where} (${key.kid}): RS256 needs an RSA key of at least 2048 bits`);
  }
  // ID tokens are ES256 unless a client asks for RS256.
  if (!(keys as JsonWebKey[]).some((k) => k.alg === 'ES256')) throw new ConfigError(SIGNING_FILE, 'needs at least one ES256 key (the default ID token algorithm)');
  return keys as JsonWebKey[];
}

/** Validates LATCHKEY_COOKIE_SECRETS (undefined when unset). */
export function parseCookieSecrets(raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  const secrets = raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (secrets.length === 0 || secrets.some((s) => s.length < 32)) {
    throw new ConfigError('LATCHKEY_COOKIE_SECRETS', 'must be comma-separated secrets of at least 32 characters each (e.g. `openssl rand -base64 32`)');
  }
  return secrets;
}

/**
 * The keys Latchkey uses: the database's, with the externally managed ones in their place.
 * The secrets derived for CSRF and decoys keep coming from the database, so they stay stable
 * whatever the operator does with cookie secrets.
 */
export function withExternalKeys(material: KeyMaterial, external: ExternalKeys): KeyMaterial {
  if (!external.signingKeysFile && !external.cookieSecrets) return material;
  let { jwks, cookieKeys } = material;
  let fileVersion = '';
  if (external.signingKeysFile) {
    const keys = readSigningKeysFile(external.signingKeysFile);
    const signing = new Set(['ES256', 'RS256'].map((alg) => keys.find((k) => k.alg === alg)).filter((k) => k !== undefined));
    // oidc-provider never signs with a key whose key_ops lack "sign".
    jwks = { keys: keys.map((k) => (signing.has(k) ? k : { ...k, key_ops: ['verify'] })) };
    fileVersion = createHash('sha256').update(JSON.stringify(jwks)).digest('hex');
  }
  if (external.cookieSecrets) cookieKeys = [...external.cookieSecrets];
  // A change in the file or in the database (cookie rotation) is a new version to swap in.
  return { ...material, jwks, cookieKeys, version: `${fileVersion}|${material.version}` };
}
