import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import type { Db } from './db.ts';
import { toNullableNumber } from './rows.ts';

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
 * row keyed by (model, id) with its payload as JSON and the lookup columns pulled out.
 */
export class KnexOidcAdapter implements Adapter {
  constructor(
    private readonly db: Db,
    private readonly model: string,
    private readonly now: () => number = Date.now,
  ) {}

  private get clientCache(): Map<string, { json: string; until: number }> | undefined {
    if (this.model !== 'Client') return undefined;
    let cache = clientCaches.get(this.db);
    if (!cache) clientCaches.set(this.db, (cache = new Map()));
    return cache;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const row = {
      model: this.model,
      id,
      payload: JSON.stringify(payload),
      grant_id: payload.grantId ?? null,
      user_code: payload.userCode ?? null,
      uid: payload.uid ?? null,
      account_id: payload.accountId ?? null,
      client_id: payload.clientId ?? null,
      expires_at: expiresIn !== undefined ? this.now() + expiresIn * 1000 : null,
    };
    await this.db('oidc_payloads').insert(row).onConflict(['model', 'id']).merge(['payload', 'grant_id', 'user_code', 'uid', 'account_id', 'client_id', 'expires_at']);
    this.clientCache?.delete(id);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const cache = this.clientCache;
    if (!cache) return this.findBy({ id });
    const cached = cache.get(id);
    if (cached && cached.until > this.now()) return JSON.parse(cached.json) as AdapterPayload;
    const payload = await this.findBy({ id });
    // Only clients that exist: one registered on another node must be found at once.
    if (payload) cache.set(id, { json: JSON.stringify(payload), until: this.now() + CLIENT_CACHE_MS });
    else cache.delete(id);
    return payload;
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.findBy({ uid });
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.findBy({ user_code: userCode });
  }

  /**
   * Marks a code or token used. oidc-provider checks `consumed` and then calls this, so two
   * parallel redemptions could both pass its check: the conditional update lets only one win,
   * and the loser fails with invalid_grant.
   */
  async consume(id: string): Promise<void> {
    const updated = await this.db('oidc_payloads')
      .where({ model: this.model, id })
      .whereNull('consumed_at')
      .update({ consumed_at: Math.floor(this.now() / 1000) });
    if (updated !== 1) throw new errors.InvalidGrant('grant request is invalid');
  }

  async destroy(id: string): Promise<void> {
    await this.db('oidc_payloads').where({ model: this.model, id }).delete();
    this.clientCache?.delete(id);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    // Every code and token of the grant goes, whatever its model.
    await this.db('oidc_payloads').where({ grant_id: grantId }).delete();
  }

  private async findBy(where: Record<string, string>): Promise<AdapterPayload | undefined> {
    const row = await this.db('oidc_payloads')
      .where({ model: this.model, ...where })
      .first('payload', 'expires_at', 'consumed_at');
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
  const row = await db('oidc_payloads')
    .where({ model: 'Grant', account_id: accountId, client_id: clientId })
    .andWhere((q) => q.whereNull('expires_at').orWhere('expires_at', '>', now))
    // No expiry (NULL) first, then the latest; spelled out because the databases sort NULL
    // differently and knex's `nulls first` is broken for SQLite.
    .orderByRaw('CASE WHEN expires_at IS NULL THEN 0 ELSE 1 END')
    .orderBy('expires_at', 'desc')
    .first('id');
  return row ? String(row.id) : undefined;
}
