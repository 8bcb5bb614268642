import type { AuthenticatorTransport } from '@simplewebauthn/server';
import type { NewPasskey } from '../../domain/passkeys/ceremonies.ts';
import type { Passkey, PasskeyRepository } from '../../domain/passkeys/types.ts';
import type { Db } from '../db.ts';
import { statements } from '../statements.ts';
import { toBoolean, toNullableNumber, toNumber } from '../rows.ts';

export function passkeyFromRow(row: Record<string, unknown>): Passkey {
  return {
    id: String(row.id),
    accountId: String(row.account_id),
    publicKey: String(row.public_key),
    counter: toNumber(row.counter),
    transports: JSON.parse(String(row.transports)) as AuthenticatorTransport[],
    deviceType: row.device_type === 'multiDevice' ? 'multiDevice' : 'singleDevice',
    backedUp: toBoolean(row.backed_up),
    userVerified: toBoolean(row.user_verified),
    aaguid: String(row.aaguid),
    attestationChain: JSON.parse(String(row.attestation_chain ?? '[]')) as string[],
    name: (row.name as string | null) ?? null,
    createdAt: toNumber(row.created_at),
    lastUsedAt: toNullableNumber(row.last_used_at),
  };
}

/** The row for a newly verified passkey. */
export function passkeyRow(accountId: string, passkey: NewPasskey, now: number): Record<string, unknown> {
  return {
    id: passkey.id,
    account_id: accountId,
    public_key: passkey.publicKey,
    counter: passkey.counter,
    transports: JSON.stringify(passkey.transports),
    device_type: passkey.deviceType,
    backed_up: passkey.backedUp,
    user_verified: passkey.userVerified,
    aaguid: passkey.aaguid,
    attestation_fmt: passkey.attestationFmt,
    attestation_chain: JSON.stringify(passkey.attestationChain),
    created_at: now,
  };
}

export class KnexPasskeyRepository implements PasskeyRepository {
  constructor(private readonly db: Db) {}

  async findById(id: string): Promise<Passkey | undefined> {
    // Read and updated on every sign-in: prepared statements.
    const [row] = await statements(this.db).all('SELECT * FROM passkeys WHERE id = ?', [id]);
    return row ? passkeyFromRow(row) : undefined;
  }

  async listByAccount(accountId: string): Promise<Passkey[]> {
    const rows = await this.db('passkeys').where({ account_id: accountId }).orderBy('created_at');
    return rows.map(passkeyFromRow);
  }

  async recordUse(id: string, use: { counter: number; backedUp: boolean; usedAt: number }): Promise<void> {
    // The counter only moves forward, even if two uses race.
    await statements(this.db).run('UPDATE passkeys SET counter = CASE WHEN counter < ? THEN ? ELSE counter END, backed_up = ?, last_used_at = ? WHERE id = ?', [
      use.counter,
      use.counter,
      use.backedUp,
      use.usedAt,
      id,
    ]);
  }
}
