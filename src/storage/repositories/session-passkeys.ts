import type { Knex } from 'knex';
import type { Db } from '../db.ts';
import { statements } from '../statements.ts';

const RECORD = `INSERT INTO session_passkeys (session_uid, account_id, passkey_id, expires_at) VALUES (?, ?, ?, ?)
  ON CONFLICT (session_uid) DO UPDATE SET account_id = excluded.account_id, passkey_id = excluded.passkey_id, expires_at = excluded.expires_at`;

/** Which passkey each browser session of an account last proved itself with (migration 0008). */
export class KnexSessionPasskeys {
  constructor(private readonly db: Db) {}

  /** Once per passkey sign-in (a prepared statement: it is on the sign-in path). */
  async record(sessionUid: string, accountId: string, passkeyId: string, expiresAt: number): Promise<void> {
    await statements(this.db).run(RECORD, [sessionUid, accountId, passkeyId, expiresAt]);
  }
}

/**
 * Signs out the account's browser sessions that stand on `passkeyId` (but `keepSessionUid`,
 * the session doing the removal): their oidc-provider Session rows go, so the next request
 * from those browsers must sign in again. Run inside the transaction that removes the passkey.
 */
export async function endSessionsSignedInWith(trx: Db | Knex.Transaction, accountId: string, passkeyId: string, keepSessionUid?: string): Promise<number> {
  const signedIn = trx('session_passkeys').where({ account_id: accountId, passkey_id: passkeyId }).select('session_uid');
  if (keepSessionUid !== undefined) signedIn.whereNot({ session_uid: keepSessionUid });
  const ended = await trx('oidc_payloads').where({ model: 'Session', account_id: accountId }).whereIn('uid', signedIn).delete();
  await trx('session_passkeys').where({ account_id: accountId, passkey_id: passkeyId }).delete();
  return ended;
}
