import type { Account, AccountRepository } from '../../domain/accounts.ts';
import type { Db } from '../db.ts';
import { toBoolean, toNumber } from '../rows.ts';
import { statements } from '../statements.ts';

type AccountRow = Record<string, unknown>;

export function accountFromRow(row: AccountRow): Account {
  return {
    id: String(row.id),
    email: String(row.email),
    emailVerified: toBoolean(row.email_verified),
    name: (row.name as string | null) ?? null,
    userHandle: String(row.user_handle),
    status: row.status === 'disabled' ? 'disabled' : 'active',
    createdAt: toNumber(row.created_at),
  };
}

export class KnexAccountRepository implements AccountRepository {
  constructor(private readonly db: Db) {}

  async findById(id: string): Promise<Account | undefined> {
    // Read on every sign-in, token and userinfo request: a prepared statement.
    const [row] = await statements(this.db).all('SELECT * FROM accounts WHERE id = ?', [id]);
    return row ? accountFromRow(row) : undefined;
  }

  async findByEmail(email: string): Promise<Account | undefined> {
    const row = await this.db('accounts').where({ email }).first();
    return row ? accountFromRow(row) : undefined;
  }
}
