import { generateKeyPairSync, randomBytes, randomUUID, type JsonWebKey } from 'node:crypto';
import type { Db } from '../db.ts';
import { isPostgres } from '../db.ts';

export interface KeyMaterial {
  /** Private signing keys as JWKs, ES256 first (the default ID token algorithm). */
  readonly jwks: { keys: JsonWebKey[] };
  /** Cookie signing secrets, newest first (the first signs, all verify). */
  readonly cookieKeys: string[];
}

function newSigningKey(alg: 'ES256' | 'RS256'): JsonWebKey {
  const { privateKey } =
    alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg, use: 'sig' };
}

/**
 * Loads the active signing keys and cookie secrets, generating them on first start. Under
 * PostgreSQL the table is locked for the check, so nodes starting together agree on one set.
 */
export async function loadOrCreateKeys(db: Db, now: number): Promise<KeyMaterial> {
  return db.transaction(async (trx) => {
    if (isPostgres(db)) await trx.raw('LOCK TABLE signing_keys IN EXCLUSIVE MODE');
    const active = await trx('signing_keys').where({ state: 'active' }).orderBy('created_at', 'desc').orderBy('kid');
    const have = (use: string, alg?: string) => active.some((k) => k.use === use && (alg === undefined || k.alg === alg));
    const additions: Record<string, unknown>[] = [];
    for (const alg of ['ES256', 'RS256'] as const) {
      if (!have('sig', alg)) {
        const jwk = newSigningKey(alg);
        additions.push({ kid: jwk.kid, use: 'sig', alg, material: JSON.stringify(jwk), state: 'active', created_at: now });
      }
    }
    if (!have('cookie')) {
      additions.push({ kid: randomUUID(), use: 'cookie', alg: null, material: randomBytes(32).toString('base64url'), state: 'active', created_at: now });
    }
    if (additions.length > 0) await trx('signing_keys').insert(additions);
    const rows = [...additions, ...active];
    const sig = rows.filter((k) => k.use === 'sig').map((k) => JSON.parse(String(k.material)) as JsonWebKey);
    sig.sort((a, b) => (a.alg === 'ES256' ? 0 : 1) - (b.alg === 'ES256' ? 0 : 1));
    return {
      jwks: { keys: sig },
      cookieKeys: rows.filter((k) => k.use === 'cookie').map((k) => String(k.material)),
    };
  });
}
