import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import type { Db } from './db.ts';
import { toNullableNumber } from './rows.ts';

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
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return this.findBy({ id });
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
