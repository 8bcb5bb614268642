import type { AccountPasskeyStore, RemoveOutcome } from '../../domain/account/types.ts';
import type { NewPasskey } from '../../domain/passkeys/ceremonies.ts';
import type { Db } from '../db.ts';
import { KnexPasskeyRepository, passkeyRow } from './passkeys.ts';
import { endSessionsSignedInWith } from './session-passkeys.ts';
import { isUniqueViolation } from './signup.ts';

/** A person's changes to their own passkeys: every statement is scoped to their account. */
export class KnexAccountPasskeyStore implements AccountPasskeyStore {
  constructor(private readonly db: Db) {}

  async add(accountId: string, passkey: NewPasskey, name: string | null, now: number): Promise<boolean> {
    try {
      await this.db('passkeys').insert({ ...passkeyRow(accountId, passkey, now), name });
      return true;
    } catch (error) {
      // Another account (or a racing request) registered this credential id first.
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  async rename(accountId: string, passkeyId: string, name: string): Promise<boolean> {
    const updated = await this.db('passkeys').where({ id: passkeyId, account_id: accountId }).update({ name });
    return updated === 1;
  }

  async remove(accountId: string, passkeyId: string, allowLast: boolean, keepSessionUid?: string): Promise<RemoveOutcome> {
    return this.db.transaction(async (trx) => {
      // Two racing removals would each count the other's passkey and both delete. Writing to the
      // account row first serialises them: PostgreSQL locks the row, SQLite takes its write lock
      // at once (so a second writer waits instead of failing when it upgrades a read).
      await trx('accounts').where({ id: accountId }).update({ updated_at: trx.ref('updated_at') });
      const passkey = await new KnexPasskeyRepository(trx).findById(passkeyId);
      // Another account's passkey is answered exactly like one that does not exist.
      if (!passkey || passkey.accountId !== accountId) return { outcome: 'not_found' };
      if (!allowLast) {
        const counted = await trx('passkeys').where({ account_id: accountId }).count({ n: '*' }).first();
        if (Number(counted?.n) <= 1) return { outcome: 'last' };
      }
      await trx('passkeys').where({ id: passkeyId, account_id: accountId }).delete();
      // A lost or stolen device: the browsers it signed in are signed out with it.
      const endedSessions = await endSessionsSignedInWith(trx, accountId, passkeyId, keepSessionUid);
      return { outcome: 'removed', passkey, endedSessions };
    });
  }
}
