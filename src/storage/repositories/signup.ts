import type { Account } from '../../domain/accounts.ts';
import type { NewPasskey } from '../../domain/passkeys/ceremonies.ts';
import type { NewAccount, SignupStore } from '../../domain/signup.ts';
import type { Db } from '../db.ts';
import { accountFromRow } from './accounts.ts';
import { passkeyRow } from './passkeys.ts';

/** Thrown inside the transaction to roll it back without an error reaching the caller. */
class Abort extends Error {}

export class KnexSignupStore implements SignupStore {
  constructor(private readonly db: Db) {}

  async complete(emailCodeId: string, account: NewAccount, passkey: NewPasskey, now: number): Promise<Account | undefined> {
    try {
      return await this.db.transaction(async (trx) => {
        // Using up the proof first makes a second completion of the same sign-up a no-op.
        const used = await trx('email_codes').where({ id: emailCodeId }).whereNotNull('verified_at').delete();
        if (used !== 1) throw new Abort();
        const taken = await trx('accounts').where({ email: account.email }).first('id');
        if (taken) throw new Abort();
        const [row] = await trx('accounts')
          .insert({
            id: account.id,
            email: account.email,
            email_verified: true,
            user_handle: account.userHandle,
            status: 'active',
            created_at: now,
            updated_at: now,
          })
          .returning('*');
        await trx('passkeys').insert(passkeyRow(account.id, passkey, now));
        return accountFromRow(row);
      });
    } catch (error) {
      if (error instanceof Abort || isUniqueViolation(error)) return undefined;
      throw error;
    }
  }
}

/** A unique constraint said no (a racing sign-up took the email or credential first). */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; message?: string } | null;
  return e?.code === '23505' || (e?.code === 'SQLITE_CONSTRAINT' && /UNIQUE|PRIMARY KEY/.test(e.message ?? ''));
}
