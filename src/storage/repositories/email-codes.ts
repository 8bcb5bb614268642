import type { EmailCodePurpose, EmailCodeRecord, EmailCodeRepository } from '../../domain/email-codes.ts';
import type { Db } from '../db.ts';
import { toNullableNumber, toNumber } from '../rows.ts';

function codeFromRow(row: Record<string, unknown>): EmailCodeRecord {
  return {
    id: String(row.id),
    purpose: row.purpose as EmailCodePurpose,
    email: String(row.email),
    interactionUid: String(row.interaction_uid),
    codeHash: String(row.code_hash),
    attempts: toNumber(row.attempts),
    expiresAt: toNumber(row.expires_at),
    verifiedAt: toNullableNumber(row.verified_at),
  };
}

export class KnexEmailCodeRepository implements EmailCodeRepository {
  constructor(private readonly db: Db) {}

  async replace(record: EmailCodeRecord, createdAt: number): Promise<void> {
    // An upsert on the (interaction, purpose) unique key: racing requests leave exactly one code.
    await this.db('email_codes')
      .insert({
        id: record.id,
        purpose: record.purpose,
        email: record.email,
        interaction_uid: record.interactionUid,
        code_hash: record.codeHash,
        attempts: record.attempts,
        expires_at: record.expiresAt,
        verified_at: record.verifiedAt,
        created_at: createdAt,
      })
      .onConflict(['interaction_uid', 'purpose'])
      .merge();
  }

  async findLatest(interactionUid: string, purpose: EmailCodePurpose): Promise<EmailCodeRecord | undefined> {
    const row = await this.db('email_codes')
      .where({ interaction_uid: interactionUid, purpose })
      .orderBy('created_at', 'desc')
      .first();
    return row ? codeFromRow(row) : undefined;
  }

  async countAttempt(id: string, maxAttempts: number): Promise<boolean> {
    const updated = await this.db('email_codes')
      .where({ id })
      .andWhere('attempts', '<', maxAttempts)
      .increment('attempts', 1);
    return updated === 1;
  }

  async markVerified(id: string, at: number): Promise<void> {
    await this.db('email_codes').where({ id }).update({ verified_at: at });
  }
}
