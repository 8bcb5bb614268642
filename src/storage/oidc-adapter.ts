import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import type { Db } from './db.ts';
import { toNullableNumber } from './rows.ts';
import { statements, type Statements } from './statements.ts';

const UPSERT = `INSERT INTO oidc_payloads (model, id, payload, grant_id, user_code, uid, account_id, client_id, expires_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id, user_code = excluded.user_code,
    uid = excluded.uid, account_id = excluded.account_id, client_id = excluded.client_id, expires_at = excluded.expires_at`;
const FIND_BY = {
  id: 'SELECT payload, expires_at, consumed_at FROM oidc_payloads WHERE model = ? AND id = ?',
  uid: 'SELECT payload, expires_at, consumed_at FROM oidc_payloads WHERE model = ? AND uid = ? LIMIT 1',
  user_code: 'SELECT payload, expires_at, consumed_at FROM oidc_payloads WHERE model = ? AND user_code = ? LIMIT 1',
} as const;
const CONSUME = 'UPDATE oidc_payloads SET consumed_at = ? WHERE model = ? AND id = ? AND consumed_at IS NULL';
const DESTROY = 'DELETE FROM oidc_payloads WHERE model = ? AND id = ?';
const REVOKE_GRANT = 'DELETE FROM oidc_payloads WHERE grant_id = ?';

/**
 * How long a node reuses a `Client` it read (a flow looks its client up about ten times).
 * Clients change rarely; a change made on this node clears its copy at once, one made by
 * another node or the CLI shows here within this time. Nothing else is cached: codes, tokens,
 * sessions, grants and interactions are read from the database every time.
 */
export const CLIENT_CACHE_MS = 3000;

/** Per database: client id → its stored payload (JSON, parsed afresh per read) and until when to reuse it. */
const clientCaches = new WeakMap<Db, Map<string, { json: string; until: number }>>();

/** Forgets the cached copy of a client (after changing or removing it other than through the adapter). */
export function forgetClient(db: Db, id: string): void {
  clientCaches.get(db)?.delete(id);
}

/**
 * oidc-provider's storage interface over one table. Every model oidc-provider persists
 * (Session, Interaction, Grant, AuthorizationCode, AccessToken, RefreshToken, Client, …) is a
 * row keyed by (model, id) with its payload as JSON and the lookup columns pulled out. Every
 * statement is prepared (src/storage/statements.ts): this is the hottest storage in Latchkey.
 */
export class KnexOidcAdapter implements Adapter {
  private readonly sql: Statements;

  constructor(
    private readonly db: Db,
    private readonly model: string,
    private readonly now: () => number = Date.now,
  ) {
    this.sql = statements(db);
  }

  private get clientCache(): Map<string, { json: string; until: number }> | undefined {
    if (this.model !== 'Client') return undefined;
    let cache = clientCaches.get(this.db);
    if (!cache) clientCaches.set(this.db, (cache = new Map()));
    return cache;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    await this.sql.run(UPSERT, [
      this.model,
      id,
      JSON.stringify(payload),
      payload.grantId ?? null,
      payload.userCode ?? null,
      payload.uid ?? null,
      payload.accountId ?? null,
      payload.clientId ?? null,
      expiresIn !== undefined ? this.now() + expiresIn * 1000 : null,
    ]);
    this.clientCache?.delete(id);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const cache = this.clientCache;
    if (!cache) return this.findBy('id', id);
    const cached = cache.get(id);
    if (cached && cached.until > this.now()) return JSON.parse(cached.json) as AdapterPayload;
    const payload = await this.findBy('id', id);
    // Only clients that exist: one registered on another node must be found at once.
    if (payload) cache.set(id, { json: JSON.stringify(payload), until: this.now() + CLIENT_CACHE_MS });
    else cache.delete(id);
    return payload;
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.findBy('uid', uid);
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.findBy('user_code', userCode);
  }

  /**
   * Marks a code or token used. oidc-provider checks `consumed` and then calls this, so two
   * parallel redemptions could both pass its check: the conditional update lets only one win,
   * and the loser fails with invalid_grant.
   */
  async consume(id: string): Promise<void> {
    const updated = await this.sql.run(CONSUME, [Math.floor(this.now() / 1000), this.model, id]);
    if (updated !== 1) throw new errors.InvalidGrant('grant request is invalid');
  }

  async destroy(id: string): Promise<void> {
    await this.sql.run(DESTROY, [this.model, id]);
    this.clientCache?.delete(id);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    // Every code and token of the grant goes, whatever its model.
    await this.sql.run(REVOKE_GRANT, [grantId]);
  }

  private async findBy(column: keyof typeof FIND_BY, value: string): Promise<AdapterPayload | undefined> {
    const [row] = await this.sql.all(FIND_BY[column], [this.model, value]);
    if (!row) return undefined;
    const expiresAt = toNullableNumber(row.expires_at);
    if (expiresAt !== null && expiresAt <= this.now()) return undefined;
    const payload = JSON.parse(String(row.payload)) as AdapterPayload;
    const consumedAt = toNullableNumber(row.consumed_at);
    return consumedAt === null ? payload : { ...payload, consumed: consumedAt };
  }
}

/** The newest unexpired grant an account gave a client, in any session (consent is remembered). */
export async function findGrantId(db: Db, accountId: string, clientId: string, now: number): Promise<string | undefined> {
  // Asked on every authorization: a prepared statement. No expiry (NULL) first, then the
  // latest; spelled out because the databases sort NULL differently.
  const [row] = await statements(db).all(
    `SELECT id FROM oidc_payloads
     WHERE model = 'Grant' AND account_id = ? AND client_id = ? AND (expires_at IS NULL OR expires_at > ?)
     ORDER BY CASE WHEN expires_at IS NULL THEN 0 ELSE 1 END, expires_at DESC
     LIMIT 1`,
    [accountId, clientId, now],
  );
  return row ? String(row.id) : undefined;
}
