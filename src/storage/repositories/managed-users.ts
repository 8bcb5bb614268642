import type { ManagedUser, ManagedUserStore, NewManagedUser, UserCursor, UserFilter } from '../../domain/management/users.ts';
import type { Passkey } from '../../domain/passkeys/types.ts';
import type { Db } from '../db.ts';
import { toNumber } from '../rows.ts';
import { accountFromRow } from './accounts.ts';
import { passkeyFromRow } from './passkeys.ts';
import { endSessionsSignedInWith } from './session-passkeys.ts';
import { isUniqueViolation } from './signup.ts';

function userFromRow(row: Record<string, unknown>): ManagedUser {
  return {
    ...accountFromRow(row),
    externalId: (row.external_id as string | null) ?? null,
    updatedAt: toNumber(row.updated_at),
  };
}

/** oidc-provider models a disabled account must lose at once; its Grant rows (consent) stay. */
const SIGNED_IN_MODELS = ['Session', 'AccessToken', 'RefreshToken', 'AuthorizationCode', 'DeviceCode', 'BackchannelAuthenticationRequest', 'Interaction'];

export class KnexManagedUserStore implements ManagedUserStore {
  constructor(private readonly db: Db) {}

  async create(user: NewManagedUser, now: number): Promise<ManagedUser | 'email_taken' | 'external_id_taken'> {
    // Checked first for a precise answer; the unique indexes still decide a race.
    const taken = await this.taken(user);
    if (taken) return taken;
    try {
      const [row] = await this.db('accounts')
        .insert({
          id: user.id,
          email: user.email,
          email_verified: user.emailVerified,
          name: user.name,
          external_id: user.externalId,
          user_handle: user.userHandle,
          status: 'active',
          created_at: now,
          updated_at: now,
        })
        .returning('*');
      return userFromRow(row);
    } catch (error) {
      if (isUniqueViolation(error)) return (await this.taken(user)) ?? 'email_taken';
      throw error;
    }
  }

  private async taken(user: NewManagedUser): Promise<'email_taken' | 'external_id_taken' | undefined> {
    if (await this.db('accounts').where({ email: user.email }).first('id')) return 'email_taken';
    if (user.externalId !== null && (await this.db('accounts').where({ external_id: user.externalId }).first('id'))) return 'external_id_taken';
    return undefined;
  }

  async find(id: string): Promise<ManagedUser | undefined> {
    const row = await this.db('accounts').where({ id }).first();
    return row ? userFromRow(row) : undefined;
  }

  async list(after: UserCursor | undefined, limit: number, filter: UserFilter): Promise<ManagedUser[]> {
    const query = this.db('accounts').orderBy([{ column: 'created_at' }, { column: 'id' }]).limit(limit);
    if (after) {
      query.where((q) => q.where('created_at', '>', after.createdAt).orWhere((q2) => q2.where('created_at', '=', after.createdAt).andWhere('id', '>', after.id)));
    }
    if (filter.email !== undefined) query.andWhere('email', filter.email);
    if (filter.externalId !== undefined) query.andWhere('external_id', filter.externalId);
    return (await query).map(userFromRow);
  }

  async setStatus(id: string, status: 'active' | 'disabled', now: number): Promise<ManagedUser | undefined> {
    return this.db.transaction(async (trx) => {
      const [row] = await trx('accounts').where({ id }).update({ status, updated_at: now }).returning('*');
      if (!row) return undefined;
      // A disabled account is signed out everywhere and its tokens stop working now, not at expiry.
      if (status === 'disabled') await trx('oidc_payloads').where({ account_id: id }).whereIn('model', SIGNED_IN_MODELS).delete();
      return userFromRow(row);
    });
  }

  async delete(id: string): Promise<boolean> {
    return this.db.transaction(async (trx) => {
      await trx('oidc_payloads').where({ account_id: id }).delete();
      await trx('passkeys').where({ account_id: id }).delete();
      await trx('enrollment_links').where({ account_id: id }).delete();
      return (await trx('accounts').where({ id }).delete()) === 1;
    });
  }

  async listPasskeys(accountId: string): Promise<Passkey[]> {
    return (await this.db('passkeys').where({ account_id: accountId }).orderBy('created_at')).map(passkeyFromRow);
  }

  async removePasskey(accountId: string, passkeyId: string): Promise<boolean> {
    return this.db.transaction(async (trx) => {
      if ((await trx('passkeys').where({ account_id: accountId, id: passkeyId }).delete()) !== 1) return false;
      // The browsers that signed in with it are signed out with it.
      await endSessionsSignedInWith(trx, accountId, passkeyId);
      return true;
    });
  }
}
