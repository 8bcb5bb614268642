import type { CeremonyPurpose, ChallengeContext, ChallengeRecord, ChallengeRepository } from '../../domain/passkeys/types.ts';
import type { Db } from '../db.ts';
import { toNumber } from '../rows.ts';
import { statements } from '../statements.ts';

export class KnexChallengeRepository implements ChallengeRepository {
  constructor(private readonly db: Db) {}

  async insert(record: ChallengeRecord): Promise<void> {
    await statements(this.db).run('INSERT INTO webauthn_challenges (challenge, purpose, interaction_uid, context, expires_at) VALUES (?, ?, ?, ?, ?)', [
      record.challenge,
      record.purpose,
      record.interactionUid,
      JSON.stringify(record.context),
      record.expiresAt,
    ]);
  }

  async consume(challenge: string, interactionUid: string, purpose: CeremonyPurpose, now: number): Promise<ChallengeRecord | undefined> {
    // DELETE … RETURNING is one atomic statement on SQLite and PostgreSQL: of two racing
    // requests, only one gets the row back.
    // (knex drops RETURNING from deletes on SQLite, hence raw SQL.)
    const [row] = await statements(this.db).all(
      'DELETE FROM webauthn_challenges WHERE challenge = ? RETURNING challenge, purpose, interaction_uid, context, expires_at',
      [challenge],
    );
    // Deleted whatever it was for: a challenge presented on the wrong interaction is burnt too.
    if (!row || row.interaction_uid !== interactionUid || row.purpose !== purpose || toNumber(row.expires_at) <= now) {
      return undefined;
    }
    return {
      challenge: String(row.challenge),
      purpose,
      interactionUid,
      context: JSON.parse(String(row.context ?? '{}')) as ChallengeContext,
      expiresAt: toNumber(row.expires_at),
    };
  }
}
