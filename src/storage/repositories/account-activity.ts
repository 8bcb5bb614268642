import type { AccountActivityStore, GrantRecord, SessionRecord } from '../../domain/account/types.ts';
import type { Db } from '../db.ts';

/** oidc-provider models that hold a code or token an application could still use. */
const TOKEN_MODELS = ['AuthorizationCode', 'AccessToken', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest'];

/**
 * An account's sessions and grants, read from and removed in oidc-provider's own rows
 * (`oidc_payloads`, keyed by model and with `account_id` / `client_id` / `grant_id` pulled out
 * by the adapter). Only fields the account page shows are read from the payloads; a session's
 * id, which is its cookie value, never leaves this file.
 */
export class KnexAccountActivity implements AccountActivityStore {
  constructor(private readonly db: Db) {}

  async listSessions(accountId: string, now: number): Promise<SessionRecord[]> {
    const rows = await this.unexpired('Session', accountId, now);
    return rows.flatMap(({ payload }) => {
      if (typeof payload.uid !== 'string') return [];
      return [
        {
          uid: payload.uid,
          ...(typeof payload.acr === 'string' ? { acr: payload.acr } : {}),
          ...(Array.isArray(payload.amr) ? { amr: payload.amr.filter((v): v is string => typeof v === 'string') } : {}),
          ...(typeof payload.loginTs === 'number' ? { authTime: payload.loginTs } : {}),
          ...(typeof payload.exp === 'number' ? { expiresAt: payload.exp } : {}),
          clientIds: payload.authorizations && typeof payload.authorizations === 'object' ? Object.keys(payload.authorizations) : [],
        },
      ];
    });
  }

  async endSession(accountId: string, uid: string): Promise<boolean> {
    const deleted = await this.db('oidc_payloads').where({ model: 'Session', account_id: accountId, uid }).delete();
    return deleted > 0;
  }

  async listGrants(accountId: string, now: number): Promise<GrantRecord[]> {
    const rows = await this.unexpired('Grant', accountId, now);
    return rows.flatMap(({ id, payload }) => {
      if (typeof payload.clientId !== 'string') return [];
      const openid = payload.openid as { scope?: unknown } | undefined;
      return [
        {
          id,
          clientId: payload.clientId,
          scopes: typeof openid?.scope === 'string' ? openid.scope.split(' ').filter(Boolean) : [],
          ...(typeof payload.iat === 'number' ? { createdAt: payload.iat } : {}),
        },
      ];
    });
  }

  async revokeClient(accountId: string, clientId: string): Promise<number> {
    return this.db.transaction(async (trx) => {
      const grantIds = (await trx('oidc_payloads').where({ model: 'Grant', account_id: accountId, client_id: clientId }).select('id')).map((r) =>
        String(r.id),
      );
      // What the adapter's revokeByGrantId does for each grant: every code and token goes with it …
      if (grantIds.length > 0) await trx('oidc_payloads').whereIn('grant_id', grantIds).delete();
      // … including any left from a grant that already expired …
      await trx('oidc_payloads').where({ account_id: accountId, client_id: clientId }).whereIn('model', TOKEN_MODELS).delete();
      // … and then the grants themselves, so the application has to ask for consent again.
      if (grantIds.length > 0) await trx('oidc_payloads').where({ model: 'Grant' }).whereIn('id', grantIds).delete();
      return grantIds.length;
    });
  }

  private async unexpired(model: string, accountId: string, now: number): Promise<{ id: string; payload: Record<string, unknown> }[]> {
    const rows = await this.db('oidc_payloads')
      .where({ model, account_id: accountId })
      .andWhere((q) => q.whereNull('expires_at').orWhere('expires_at', '>', now))
      .select('id', 'payload');
    return rows.flatMap((row) => {
      try {
        const payload = JSON.parse(String(row.payload)) as unknown;
        return payload && typeof payload === 'object' ? [{ id: String(row.id), payload: payload as Record<string, unknown> }] : [];
      } catch {
        return [];
      }
    });
  }
}
