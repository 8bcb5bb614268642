import type { NewPasskey } from '../../domain/passkeys/ceremonies.ts';
import type { RecoveryStore } from '../../domain/recovery.ts';
import type { Db } from '../db.ts';
import { passkeyRow } from './passkeys.ts';
import { isUniqueViolation } from './signup.ts';

export class KnexRecoveryStore implements RecoveryStore {
  constructor(private readonly db: Db) {}

  async complete(emailCodeId: string, accountId: string, passkey: NewPasskey, now: number): Promise<boolean> {
    try {
      return await this.db.transaction(async (trx) => {
        const used = await trx('email_codes').where({ id: emailCodeId, purpose: 'recovery' }).whereNotNull('verified_at').delete();
        if (used !== 1) return false;
        await trx('passkeys').insert(passkeyRow(accountId, passkey, now));
        return true;
      });
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }
}
