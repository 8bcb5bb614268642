import type { EnrollmentLink, EnrollmentPolicy, EnrollmentStore } from '../../domain/enrollment.ts';
import type { NewPasskey } from '../../domain/passkeys/ceremonies.ts';
import type { Db } from '../db.ts';
import { toNullableNumber, toNumber } from '../rows.ts';
import { passkeyRow } from './passkeys.ts';
import { isUniqueViolation } from './signup.ts';

function linkFromRow(row: Record<string, unknown>): EnrollmentLink {
  return {
    id: String(row.id),
    accountId: String(row.account_id),
    status: row.status as EnrollmentLink['status'],
    policy: JSON.parse(String(row.policy)) as EnrollmentPolicy,
    invitedBy: String(row.invited_by),
    createdBy: String(row.created_by),
    expiresAt: toNumber(row.expires_at),
    createdAt: toNumber(row.created_at),
    openedAt: toNullableNumber(row.opened_at),
    completedAt: toNullableNumber(row.completed_at),
    revokedAt: toNullableNumber(row.revoked_at),
    passkeyId: (row.passkey_id as string | null) ?? null,
  };
}

/** Thrown inside the transaction to roll it back. */
class Abort extends Error {}

export class KnexEnrollmentStore implements EnrollmentStore {
  constructor(private readonly db: Db) {}

  async create(link: EnrollmentLink, tokenHash: string): Promise<void> {
    await this.db('enrollment_links').insert({
      id: link.id,
      token_hash: tokenHash,
      account_id: link.accountId,
      status: link.status,
      policy: JSON.stringify(link.policy),
      invited_by: link.invitedBy,
      created_by: link.createdBy,
      expires_at: link.expiresAt,
      created_at: link.createdAt,
    });
  }

  async find(id: string): Promise<EnrollmentLink | undefined> {
    const row = await this.db('enrollment_links').where({ id }).first();
    return row ? linkFromRow(row) : undefined;
  }

  async findByTokenHash(tokenHash: string): Promise<EnrollmentLink | undefined> {
    const row = await this.db('enrollment_links').where({ token_hash: tokenHash }).first();
    return row ? linkFromRow(row) : undefined;
  }

  async markOpened(id: string, now: number): Promise<boolean> {
    return (await this.db('enrollment_links').where({ id, status: 'created' }).andWhere('expires_at', '>', now).update({ status: 'opened', opened_at: now })) === 1;
  }

  async revoke(id: string, now: number): Promise<boolean> {
    return (await this.db('enrollment_links').where({ id }).whereIn('status', ['created', 'opened']).andWhere('expires_at', '>', now).update({ status: 'revoked', revoked_at: now })) === 1;
  }

  async complete(id: string, accountId: string, passkey: NewPasskey, now: number): Promise<boolean> {
    try {
      return await this.db.transaction(async (trx) => {
        // Using up the link first makes a second completion (even a racing one) a no-op.
        const used = await trx('enrollment_links')
          .where({ id, account_id: accountId })
          .whereIn('status', ['created', 'opened'])
          .andWhere('expires_at', '>', now)
          .update({ status: 'completed', completed_at: now, passkey_id: passkey.id });
        if (used !== 1) throw new Abort();
        const active = await trx('accounts').where({ id: accountId, status: 'active' }).first('id');
        if (!active) throw new Abort();
        await trx('passkeys').insert(passkeyRow(accountId, passkey, now));
        return true;
      });
    } catch (error) {
      if (error instanceof Abort || isUniqueViolation(error)) return false;
      throw error;
    }
  }
}
