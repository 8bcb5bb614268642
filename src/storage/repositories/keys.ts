import { generateKeyPairSync, randomBytes, randomUUID, type JsonWebKey } from 'node:crypto';
import type { Db } from '../db.ts';
import { isPostgres } from '../db.ts';
import { toNullableNumber, toNumber } from '../rows.ts';

/**
 * Keys live in `signing_keys` and move through four states:
 * - `next`: published (JWKS; for cookies: accepted) but never used to sign, so every node and
 *   every relying party can know it before the first token signed with it appears;
 * - `active`: signs (one per signing algorithm, one for cookies);
 * - `previous`: stopped signing at `retired_at`, still published/accepted so tokens and cookies
 *   it signed stay valid until they expire;
 * - `retired`: no longer published nor accepted. Rows are kept: the first cookie secret ever
 *   created also roots the CSRF and decoy secrets (see `derivationSecret`).
 */
export type KeyState = 'next' | 'active' | 'previous' | 'retired';
export type KeyUse = 'sig' | 'cookie';
export type SigningAlg = 'ES256' | 'RS256';
export const SIGNING_ALGS: readonly SigningAlg[] = ['ES256', 'RS256'];

export interface KeyMaterial {
  /**
   * JWKs for oidc-provider: the active private signing keys, ES256 first (the default ID token
   * algorithm), then the `next` and `previous` keys marked `key_ops: ["verify"]`, so
   * oidc-provider publishes them (public halves only) and verifies with them but never signs.
   */
  readonly jwks: { keys: JsonWebKey[] };
  /** Cookie signing secrets: the active one first (it signs), then `next` and `previous` (they verify). */
  readonly cookieKeys: string[];
  /** Root of the secrets derived per purpose (CSRF, decoy credentials); stable across cookie rotations. */
  readonly derivationSecret: string;
  /** Changes whenever any key changes state: nodes compare it to notice a rotation. */
  readonly version: string;
}

/** A key as operators see it: never its material. */
export interface KeyInfo {
  readonly kid: string;
  readonly use: KeyUse;
  readonly alg: SigningAlg | null;
  readonly state: KeyState;
  readonly createdAt: number;
  /** When it stopped signing (became `previous`). */
  readonly retiredAt: number | null;
}

/** A rotation step that cannot be taken now; `code` is stable, the message says what to do. */
export class KeyRotationError extends Error {
  constructor(
    readonly code: 'next_key_exists' | 'no_next_key' | 'unknown_alg' | 'managed_elsewhere',
    message: string,
  ) {
    super(message);
    this.name = 'KeyRotationError';
  }
}

interface KeyRow {
  kid: string;
  use: string;
  alg: string | null;
  material: string;
  state: string;
  created_at: unknown;
  retired_at: unknown;
}

function newSigningKey(alg: SigningAlg): JsonWebKey {
  const { privateKey } =
    alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg, use: 'sig' };
}

function newRow(use: KeyUse, alg: SigningAlg | null, state: KeyState, now: number): KeyRow {
  if (use === 'cookie') {
    return { kid: randomUUID(), use, alg: null, material: randomBytes(32).toString('base64url'), state, created_at: now, retired_at: null };
  }
  const jwk = newSigningKey(alg!);
  return { kid: jwk.kid as string, use, alg, material: JSON.stringify(jwk), state, created_at: now, retired_at: null };
}

/** oidc-provider only accepts private keys, and never signs with one whose key_ops lack "sign". */
function verifyOnly(material: string): JsonWebKey {
  return { ...(JSON.parse(material) as JsonWebKey), key_ops: ['verify'] };
}

const algOrder = (row: KeyRow) => SIGNING_ALGS.indexOf(row.alg as SigningAlg);
const byCreation = (a: KeyRow, b: KeyRow) =>
  toNumber(a.created_at) - toNumber(b.created_at) || a.use.localeCompare(b.use) || algOrder(a) - algOrder(b) || a.kid.localeCompare(b.kid);

/** Builds what the app needs from the rows of `signing_keys`. */
function materialOf(rows: KeyRow[]): KeyMaterial {
  const live = rows.filter((r) => r.state !== 'retired');
  const inState = (use: KeyUse, state: KeyState) => live.filter((r) => r.use === use && r.state === state).sort(byCreation);
  const sig = (state: KeyState) => inState('sig', state).sort((a, b) => algOrder(a) - algOrder(b));
  // The newest active key signs if two ever coexist (a promote racing an old node's first start).
  const newestFirst = (list: KeyRow[]) => [...list].reverse();
  const cookies = rows.filter((r) => r.use === 'cookie').sort(byCreation);
  return {
    jwks: {
      keys: [
        ...newestFirst(sig('active')).sort((a, b) => algOrder(a) - algOrder(b)).map((r) => JSON.parse(r.material) as JsonWebKey),
        ...[...sig('next'), ...sig('previous')].map((r) => verifyOnly(r.material)),
      ],
    },
    cookieKeys: [...newestFirst(inState('cookie', 'active')), ...inState('cookie', 'next'), ...newestFirst(inState('cookie', 'previous'))].map((r) => r.material),
    derivationSecret: cookies[0]?.material ?? '',
    version: live
      .map((r) => `${r.kid}:${r.state}`)
      .sort()
      .join(','),
  };
}

/** The keys as they stand now (nodes call this on an interval to pick up rotations). */
export async function loadKeys(db: Db): Promise<KeyMaterial> {
  return materialOf((await db('signing_keys').select('*')) as KeyRow[]);
}

/**
 * Loads the signing keys and cookie secrets, generating the missing active ones on first
 * start. Under PostgreSQL the table is locked for the check, so nodes starting together agree
 * on one set.
 */
export async function loadOrCreateKeys(db: Db, now: number): Promise<KeyMaterial> {
  return db.transaction(async (trx) => {
    if (isPostgres(db)) await trx.raw('LOCK TABLE signing_keys IN EXCLUSIVE MODE');
    const rows = (await trx('signing_keys').select('*')) as KeyRow[];
    const active = rows.filter((r) => r.state === 'active');
    const additions: KeyRow[] = [];
    for (const alg of SIGNING_ALGS) {
      if (!active.some((k) => k.use === 'sig' && k.alg === alg)) additions.push(newRow('sig', alg, 'active', now));
    }
    if (!active.some((k) => k.use === 'cookie')) additions.push(newRow('cookie', null, 'active', now));
    if (additions.length > 0) await trx('signing_keys').insert(additions);
    return materialOf([...rows, ...additions]);
  });
}

/** Every key, oldest first, without material. */
export async function listKeys(db: Db): Promise<KeyInfo[]> {
  const rows = (await db('signing_keys').select('kid', 'use', 'alg', 'state', 'created_at', 'retired_at')) as KeyRow[];
  return rows.sort(byCreation).map((r) => ({
    kid: r.kid,
    use: r.use as KeyUse,
    alg: (r.alg as SigningAlg | null) ?? null,
    state: r.state as KeyState,
    createdAt: toNumber(r.created_at),
    retiredAt: toNullableNumber(r.retired_at),
  }));
}

/** Which keys a rotation step acts on: cookie secrets, or signing keys of some or all algorithms. */
export type KeyTarget = { readonly use: 'cookie' } | { readonly use: 'sig'; readonly alg?: SigningAlg };

function targets(target: KeyTarget): { use: KeyUse; alg: SigningAlg | null }[] {
  if (target.use === 'cookie') return [{ use: 'cookie', alg: null }];
  return (target.alg ? [target.alg] : SIGNING_ALGS).map((alg) => ({ use: 'sig' as const, alg }));
}

const label = (use: KeyUse, alg: SigningAlg | null) => (use === 'cookie' ? 'cookie secret' : `${alg} signing key`);

/**
 * Step 1: adds the next key of each target, published but not yet signing. Refuses when one is
 * already waiting. Returns the new keys.
 */
export async function rotateKeys(db: Db, target: KeyTarget, now: number): Promise<KeyInfo[]> {
  const added = await db.transaction(async (trx) => {
    if (isPostgres(db)) await trx.raw('LOCK TABLE signing_keys IN EXCLUSIVE MODE');
    const rows: KeyRow[] = [];
    for (const { use, alg } of targets(target)) {
      const waiting = await trx('signing_keys').where({ use, state: 'next', ...(alg ? { alg } : {}) }).first('kid');
      if (waiting) throw new KeyRotationError('next_key_exists', `a next ${label(use, alg)} (${waiting.kid}) is already waiting: promote it first`);
      rows.push(newRow(use, alg, 'next', now));
    }
    await trx('signing_keys').insert(rows);
    return rows;
  });
  const kids = new Set(added.map((r) => r.kid));
  return (await listKeys(db)).filter((k) => kids.has(k.kid));
}

/**
 * Step 2: the next key of each target starts signing; the active one becomes `previous` (it
 * still verifies). Refuses when a target has no next key. Returns the promoted keys.
 */
export async function promoteKeys(db: Db, target: KeyTarget, now: number): Promise<KeyInfo[]> {
  const promoted = await db.transaction(async (trx) => {
    if (isPostgres(db)) await trx.raw('LOCK TABLE signing_keys IN EXCLUSIVE MODE');
    const kids: string[] = [];
    for (const { use, alg } of targets(target)) {
      const scope = { use, ...(alg ? { alg } : {}) };
      const next = await trx('signing_keys').where({ ...scope, state: 'next' }).orderBy('created_at').first('kid');
      if (!next) throw new KeyRotationError('no_next_key', `there is no next ${label(use, alg)}: run \`latchkey keys rotate\` first`);
      await trx('signing_keys').where({ ...scope, state: 'active' }).update({ state: 'previous', retired_at: now });
      await trx('signing_keys').where({ kid: next.kid }).update({ state: 'active' });
      kids.push(String(next.kid));
    }
    return kids;
  });
  return (await listKeys(db)).filter((k) => promoted.includes(k.kid));
}

/**
 * Step 3: retires the `previous` keys of the target that stopped signing at least
 * `graceSeconds` ago (the longest lifetime of anything they signed). Returns the keys retired
 * and those still within their grace period.
 */
export async function retireKeys(db: Db, target: KeyTarget, now: number, graceSeconds: number): Promise<{ retired: KeyInfo[]; waiting: KeyInfo[] }> {
  const scopes = targets(target);
  const inScope = (k: KeyInfo) => scopes.some((s) => s.use === k.use && (s.alg === null || s.alg === k.alg));
  const candidates = (await listKeys(db)).filter((k) => k.state === 'previous' && inScope(k));
  const due = candidates.filter((k) => (k.retiredAt ?? 0) <= now - graceSeconds * 1000);
  if (due.length > 0) {
    await db('signing_keys')
      .whereIn('kid', due.map((k) => k.kid))
      .where({ state: 'previous' })
      .update({ state: 'retired' });
  }
  return { retired: due.map((k) => ({ ...k, state: 'retired' })), waiting: candidates.filter((k) => !due.includes(k)) };
}
