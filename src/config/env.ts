import { isIP } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import type { LevelMaxAges } from '../domain/step-up.ts';
import { LOCALES, type Locale } from '../i18n/index.ts';
import { parseBranding, type Branding } from './branding.ts';
import { parseCookieSecrets, readSigningKeysFile, type ExternalKeys } from './external-keys.ts';

/** Levels of authentication assurance, weakest first, and the strings Latchkey puts in `acr`. */
export interface AcrNames {
  /** Emailed one-time code only (sign-up, recovery). */
  readonly otp: string;
  /** A passkey used without user verification (only where a client's policy allows it). */
  readonly pop: string;
  /** User-verified passkey that may be synced between devices. */
  readonly phr: string;
  /** User-verified passkey bound to one device. */
  readonly phrh: string;
}

export type DatabaseConfig =
  | { readonly client: 'sqlite'; readonly filename: string }
  | {
      readonly client: 'postgres';
      readonly connectionString: string;
      /** Schema Latchkey's tables live in (`?schema=` in DATABASE_URL); the server's default otherwise. */
      readonly schema?: string;
    };

/** Everything Latchkey reads from its environment, parsed and validated once at start. */
export interface Config {
  readonly port: number;
  readonly host: string;
  readonly issuer: string;
  readonly rpId: string;
  readonly rpName: string;
  /** How pages and mails present the operator: product name, logo, colours, support link. */
  readonly branding: Branding;
  /** Hosts (host[:port]) whose https logo_uri the pages may show; images from them are allowed by the CSP. */
  readonly logoHosts: readonly string[];
  /** The language of pages and mails when neither the request (ui_locales) nor the browser names a supported one. */
  readonly defaultLocale: Locale;
  readonly origins: readonly string[];
  readonly database: DatabaseConfig;
  readonly smtpUrl: string | undefined;
  readonly mailFrom: string;
  readonly initialAccessToken: string | undefined;
  readonly clientsFile: string | undefined;
  readonly trustProxy: boolean;
  /** How many proxies in front of Latchkey append to X-Forwarded-For; only their entries are believed. */
  readonly proxyHops: number;
  /** Redis for shared rate-limit counters; unset: the database holds them. */
  readonly redisUrl: string | undefined;
  /** Multiplies every rate-limit budget (2 = twice as many requests allowed). */
  readonly rateLimitScale: number;
  /** A FIDO Metadata Service BLOB (JWT) on disk, and the PEM root that must have signed it. */
  readonly mdsBlob: string | undefined;
  readonly mdsRoot: string | undefined;
  readonly logLevel: string;
  readonly acr: AcrNames;
  /** Seconds each level keeps satisfying step-up requests after its ceremony (0 = no limit). */
  readonly acrMaxAge: LevelMaxAges;
  /** Lifetime of an emailed one-time code, seconds. */
  readonly emailCodeTtl: number;
  /** Wrong guesses allowed for one emailed code before it is burnt. */
  readonly emailCodeMaxAttempts: number;
  /** Lifetime of a WebAuthn challenge, seconds. */
  readonly challengeTtl: number;
  /** Seconds after a passkey ceremony during which the account page lets the person add or remove passkeys. */
  readonly accountReauthSeconds: number;
  /** JSON file naming authenticator models by AAGUID, for the account page; unset: generic names. */
  readonly authenticatorMetadata: string | undefined;
  /** How a person who lost their passkeys gets back in: a code to their verified email, or not at all. */
  readonly recovery: 'email' | 'off';
  /** Bearer token /metrics requires; unset leaves /metrics open (keep it off the public network). */
  readonly metricsToken: string | undefined;
  /** Seconds between checks for rotated keys in the database (how soon every node follows a rotation). */
  readonly keyReloadInterval: number;
  /** Signing keys and cookie secrets managed outside the database (src/config/external-keys.ts). */
  readonly externalKeys: ExternalKeys;
  /** Backchannel approval (CIBA). */
  readonly ciba: {
    /** Seconds a client must wait between polls of one request (`interval`); faster polls get `slow_down`. */
    readonly pollInterval: number;
    /**
     * Let ping notifications reach loopback and private addresses (local development and tests
     * only); otherwise they go to publicly routable https endpoints only.
     */
    readonly pingAllowPrivate: boolean;
    /** Extra CA certificate (PEM file) trusted for ping endpoints, with pingAllowPrivate (a development certificate). */
    readonly pingCaFile: string | undefined;
  };
  /** Webhook delivery: how often each node looks for due deliveries, the first retry delay, and attempts before giving up. */
  readonly webhooks: {
    readonly pollMs: number;
    readonly retryBaseMs: number;
    readonly maxAttempts: number;
    /** Accept http:// webhook URLs (local development only); https otherwise. */
    readonly allowHttp: boolean;
  };
}

/** A configuration value that cannot be used; the message names the variable and the fix. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function value(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(name, `expected a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return Number(raw);
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
  throw new ConfigError(name, `expected true or false, got "${raw}"`);
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${raw}"`);
  return raw as T;
}

function parseIssuer(env: Env, port: number): URL {
  const raw = value(env, 'LATCHKEY_ISSUER') ?? `http://localhost:${port}`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('LATCHKEY_ISSUER', `"${raw}" is not a URL; use e.g. https://login.example.com`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError('LATCHKEY_ISSUER', 'must be an https:// URL (http:// only for localhost)');
  }
  // WebAuthn only runs in secure contexts: plain http is allowed for localhost alone.
  if (url.protocol === 'http:' && url.hostname !== 'localhost') {
    throw new ConfigError('LATCHKEY_ISSUER', `http:// is only allowed for localhost; use https:// for ${url.hostname}`);
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new ConfigError('LATCHKEY_ISSUER', 'must not contain a query, fragment or credentials');
  }
  return url;
}

function parseOrigins(env: Env, issuer: URL, rpId: string): string[] {
  const raw = value(env, 'LATCHKEY_ORIGINS');
  if (raw === undefined) return [issuer.origin];
  const origins = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (origins.length === 0) throw new ConfigError('LATCHKEY_ORIGINS', 'lists no origin');
  for (const origin of origins) {
    if (origin.startsWith('android:apk-key-hash:')) {
      if (!/^android:apk-key-hash:[A-Za-z0-9_-]{20,}$/.test(origin)) {
        throw new ConfigError('LATCHKEY_ORIGINS', `"${origin}" is not android:apk-key-hash:<base64url SHA-256 of the signing certificate>`);
      }
      continue;
    }
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new ConfigError('LATCHKEY_ORIGINS', `"${origin}" is not an origin such as https://login.example.com`);
    }
    if (url.origin !== origin) {
      throw new ConfigError('LATCHKEY_ORIGINS', `"${origin}" must be a bare origin (scheme://host[:port]), e.g. "${url.origin}"`);
    }
    if (url.protocol !== 'https:' && url.hostname !== 'localhost') {
      throw new ConfigError('LATCHKEY_ORIGINS', `"${origin}" must be https (http only for localhost)`);
    }
    // A WebAuthn origin must be the RP ID or one of its subdomains, or browsers refuse the ceremony.
    if (url.hostname !== rpId && !url.hostname.endsWith(`.${rpId}`)) {
      throw new ConfigError('LATCHKEY_ORIGINS', `"${origin}" is not on the RP ID ${rpId} or one of its subdomains`);
    }
  }
  return origins;
}

function parseRpId(env: Env, issuer: URL): string {
  const configured = value(env, 'LATCHKEY_RP_ID');
  const rpId = configured ?? issuer.hostname;
  // Blame the variable the value came from.
  const variable = configured === undefined ? 'LATCHKEY_ISSUER' : 'LATCHKEY_RP_ID';
  // WebAuthn refuses IP addresses as RP IDs: passkeys need a domain name.
  if (isIP(rpId.replace(/^\[|\]$/g, '')) !== 0) {
    throw new ConfigError(variable, `"${rpId}" is an IP address; passkeys need a domain name (use localhost for local runs)`);
  }
  if (!/^[a-z0-9.-]+$/.test(rpId) || rpId.startsWith('.') || rpId.endsWith('.')) {
    throw new ConfigError(variable, `"${rpId}" is not a domain name such as example.com`);
  }
  // The RP ID must be the issuer's host or a registrable suffix of it, or the hosted pages cannot use it.
  if (issuer.hostname !== rpId && !issuer.hostname.endsWith(`.${rpId}`)) {
    throw new ConfigError('LATCHKEY_RP_ID', `"${rpId}" must equal the issuer's host ${issuer.hostname} or be a parent domain of it`);
  }
  return rpId;
}

function parseDatabase(env: Env, cwd: string): DatabaseConfig {
  const raw = value(env, 'DATABASE_URL') ?? 'sqlite:./data/latchkey.sqlite3';
  if (raw.startsWith('sqlite:')) {
    let path = raw.slice('sqlite:'.length);
    // sqlite:///abs/path is an absolute path; sqlite://x would silently mean /x, so it is refused.
    if (path.startsWith('///')) path = path.slice(2);
    else if (path.startsWith('//')) {
      throw new ConfigError('DATABASE_URL', `"${raw}" is ambiguous: use sqlite:./relative/file.sqlite3 or sqlite:///absolute/file.sqlite3`);
    }
    if (!path) throw new ConfigError('DATABASE_URL', 'sqlite: needs a file path, e.g. sqlite:./data/latchkey.sqlite3');
    return { client: 'sqlite', filename: isAbsolute(path) ? path : resolve(cwd, path) };
  }
  if (raw.startsWith('postgres://') || raw.startsWith('postgresql://')) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new ConfigError('DATABASE_URL', 'is not a valid postgres:// URL');
    }
    const schema = url.searchParams.get('schema') ?? undefined;
    if (schema === undefined) return { client: 'postgres', connectionString: raw };
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
      throw new ConfigError('DATABASE_URL', `schema "${schema}" must be a plain identifier (letters, digits, underscores)`);
    }
    // `schema` is Latchkey's parameter, not libpq's: the driver must not see it.
    url.searchParams.delete('schema');
    return { client: 'postgres', connectionString: url.href, schema };
  }
  throw new ConfigError('DATABASE_URL', 'must start with sqlite: or postgres://');
}

function parseSmtpUrl(env: Env): string | undefined {
  const raw = value(env, 'SMTP_URL');
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('SMTP_URL', 'is not a URL such as smtp://mail.example.com:587');
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
    throw new ConfigError('SMTP_URL', 'must start with smtp:// or smtps://');
  }
  return raw;
}

function optionalPath(env: Env, name: string, cwd: string): string | undefined {
  const raw = value(env, name);
  return raw === undefined ? undefined : resolve(cwd, raw);
}

function parseLogoHosts(env: Env): string[] {
  const raw = value(env, 'LATCHKEY_LOGO_HOSTS');
  if (raw === undefined) return [];
  const hosts = raw.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const host of hosts) {
    // Bare host names only: a scheme, path or wildcard would widen what the CSP lets pages load.
    if (!/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}(:\d{1,5})?$/.test(host)) {
      throw new ConfigError('LATCHKEY_LOGO_HOSTS', `"${host}" is not a host name such as cdn.example.com (no scheme, path or wildcard)`);
    }
  }
  return [...new Set(hosts)];
}

function parseRedisUrl(env: Env): string | undefined {
  const raw = value(env, 'REDIS_URL');
  if (raw === undefined) return undefined;
  if (!/^rediss?:\/\/[^\s]+$/.test(raw)) throw new ConfigError('REDIS_URL', 'must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379');
  return raw;
}

function parseAcrNames(env: Env): AcrNames {
  const names = {
    otp: value(env, 'LATCHKEY_ACR_OTP') ?? 'urn:latchkey:acr:otp',
    pop: value(env, 'LATCHKEY_ACR_POP') ?? 'urn:latchkey:acr:pop',
    phr: value(env, 'LATCHKEY_ACR_PHR') ?? 'phr',
    phrh: value(env, 'LATCHKEY_ACR_PHRH') ?? 'phrh',
  };
  if (new Set(Object.values(names)).size !== Object.keys(names).length) {
    throw new ConfigError('LATCHKEY_ACR_OTP', 'LATCHKEY_ACR_OTP, LATCHKEY_ACR_POP, LATCHKEY_ACR_PHR and LATCHKEY_ACR_PHRH must be different strings');
  }
  return names;
}

/**
 * Reads Latchkey's configuration from environment variables.
 * Throws a ConfigError naming the variable at the first value that cannot be used.
 */
export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const port = integer(env, 'PORT', 3000, 0, 65535);
  const issuerUrl = parseIssuer(env, port);
  const rpId = parseRpId(env, issuerUrl);
  const logLevel = value(env, 'LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const initialAccessToken = value(env, 'LATCHKEY_INITIAL_ACCESS_TOKEN');
  if (initialAccessToken !== undefined && initialAccessToken.length < 16) {
    throw new ConfigError('LATCHKEY_INITIAL_ACCESS_TOKEN', 'must be at least 16 characters (use e.g. `openssl rand -hex 32`)');
  }
  const clientsFile = value(env, 'LATCHKEY_CLIENTS_FILE');
  const metricsToken = value(env, 'LATCHKEY_METRICS_TOKEN');
  if (metricsToken !== undefined && metricsToken.length < 16) {
    throw new ConfigError('LATCHKEY_METRICS_TOKEN', 'must be at least 16 characters (use e.g. `openssl rand -hex 32`)');
  }
  const authenticatorMetadata = value(env, 'LATCHKEY_AUTHENTICATOR_METADATA');
  const config: Config = {
    port,
    host: value(env, 'HOST') ?? '0.0.0.0',
    // oidc-provider compares issuers literally: no trailing slash.
    issuer: issuerUrl.href.replace(/\/$/, ''),
    rpId,
    rpName: value(env, 'LATCHKEY_RP_NAME') ?? 'Latchkey',
    defaultLocale: oneOf(env, 'LATCHKEY_DEFAULT_LOCALE', LOCALES, 'en'),
    branding: parseBranding(env, cwd, value(env, 'LATCHKEY_RP_NAME') ?? 'Latchkey'),
    logoHosts: parseLogoHosts(env),
    origins: parseOrigins(env, issuerUrl, rpId),
    database: parseDatabase(env, cwd),
    smtpUrl: parseSmtpUrl(env),
    mailFrom: value(env, 'MAIL_FROM') ?? `Latchkey <no-reply@${issuerUrl.hostname}>`,
    initialAccessToken,
    clientsFile: clientsFile === undefined ? undefined : resolve(cwd, clientsFile),
    trustProxy: boolean(env, 'LATCHKEY_TRUST_PROXY', false),
    proxyHops: integer(env, 'LATCHKEY_PROXY_HOPS', 1, 1, 10),
    redisUrl: parseRedisUrl(env),
    rateLimitScale: integer(env, 'LATCHKEY_RATE_LIMIT_SCALE', 1, 1, 10_000),
    mdsBlob: optionalPath(env, 'LATCHKEY_MDS_BLOB', cwd),
    mdsRoot: optionalPath(env, 'LATCHKEY_MDS_ROOT', cwd),
    logLevel,
    acr: parseAcrNames(env),
    acrMaxAge: {
      otp: integer(env, 'LATCHKEY_ACR_MAX_AGE_OTP', 0, 0, 31_536_000),
      pop: integer(env, 'LATCHKEY_ACR_MAX_AGE_POP', 0, 0, 31_536_000),
      phr: integer(env, 'LATCHKEY_ACR_MAX_AGE_PHR', 0, 0, 31_536_000),
      phrh: integer(env, 'LATCHKEY_ACR_MAX_AGE_PHRH', 900, 0, 31_536_000),
    },
    emailCodeTtl: integer(env, 'LATCHKEY_EMAIL_CODE_TTL', 600, 60, 3600),
    emailCodeMaxAttempts: integer(env, 'LATCHKEY_EMAIL_CODE_ATTEMPTS', 5, 1, 20),
    challengeTtl: integer(env, 'LATCHKEY_CHALLENGE_TTL', 300, 30, 900),
    accountReauthSeconds: integer(env, 'LATCHKEY_ACCOUNT_REAUTH_SECONDS', 300, 30, 3600),
    authenticatorMetadata: authenticatorMetadata === undefined ? undefined : resolve(cwd, authenticatorMetadata),
    recovery: oneOf(env, 'LATCHKEY_RECOVERY', ['email', 'off'] as const, 'email'),
    metricsToken,
    keyReloadInterval: integer(env, 'LATCHKEY_KEY_RELOAD_INTERVAL', 30, 1, 3600),
    externalKeys: parseExternalKeys(env, cwd),
    ciba: {
      pollInterval: integer(env, 'LATCHKEY_CIBA_POLL_INTERVAL', 5, 1, 60),
      pingAllowPrivate: boolean(env, 'LATCHKEY_CIBA_PING_ALLOW_PRIVATE', false),
      pingCaFile: optionalPath(env, 'LATCHKEY_CIBA_PING_CA_FILE', cwd),
    },
    webhooks: {
      pollMs: integer(env, 'LATCHKEY_WEBHOOK_POLL_MS', 1000, 50, 60_000),
      retryBaseMs: integer(env, 'LATCHKEY_WEBHOOK_RETRY_BASE_MS', 10_000, 50, 3_600_000),
      maxAttempts: integer(env, 'LATCHKEY_WEBHOOK_MAX_ATTEMPTS', 12, 1, 50),
      allowHttp: boolean(env, 'LATCHKEY_WEBHOOK_ALLOW_HTTP', false),
    },
  };
  return Object.freeze(config);
}

function parseExternalKeys(env: Env, cwd: string): ExternalKeys {
  const signingKeysFile = optionalPath(env, 'LATCHKEY_SIGNING_KEYS_FILE', cwd);
  // Checked now, so a bad file stops the start instead of the first token.
  if (signingKeysFile) readSigningKeysFile(signingKeysFile);
  const cookieSecrets = parseCookieSecrets(value(env, 'LATCHKEY_COOKIE_SECRETS'));
  return { ...(signingKeysFile ? { signingKeysFile } : {}), ...(cookieSecrets ? { cookieSecrets } : {}) };
}
