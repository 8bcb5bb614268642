import type { Account } from '../../domain/accounts.ts';
import type { BackchannelApproval, BackchannelStore, LoginHintDirectory } from '../../domain/backchannel.ts';
import type { Db } from '../db.ts';
import { toNumber } from '../rows.ts';
import { accountFromRow } from './accounts.ts';

function approvalFromRow(row: Record<string, unknown>): BackchannelApproval {
  return {
    id: String(row.id),
    requestId: String(row.request_id),
    accountId: String(row.account_id),
    clientId: String(row.client_id),
    bindingMessage: (row.binding_message as string | null) ?? null,
    details: row.details ? (JSON.parse(String(row.details)) as Record<string, unknown>[]) : null,
    scope: (row.scope as string | null) ?? null,
    status: row.status as BackchannelApproval['status'],
    expiresAt: toNumber(row.expires_at),
    createdAt: toNumber(row.created_at),
  };
}

export class KnexBackchannelStore implements BackchannelStore {
  constructor(private readonly db: Db) {}

  async create(approval: BackchannelApproval, tokenHash: string): Promise<void> {
    await this.db('backchannel_approvals').insert({
      id: approval.id,
      token_hash: tokenHash,
      request_id: approval.requestId,
      account_id: approval.accountId,
      client_id: approval.clientId,
      binding_message: approval.bindingMessage,
      details: approval.details ? JSON.stringify(approval.details) : null,
      scope: approval.scope,
      status: approval.status,
      expires_at: approval.expiresAt,
      created_at: approval.createdAt,
    });
  }

  async findByTokenHash(tokenHash: string): Promise<BackchannelApproval | undefined> {
    const row = await this.db('backchannel_approvals').where({ token_hash: tokenHash }).first();
    return row ? approvalFromRow(row) : undefined;
  }

  async decide(id: string, decision: 'approved' | 'denied', now: number): Promise<boolean> {
    return (await this.db('backchannel_approvals').where({ id, status: 'pending' }).andWhere('expires_at', '>', now).update({ status: decision, decided_at: now })) === 1;
  }
}

/** login_hint lookups: by email, by the application's external id, or by subject. */
export class KnexLoginHintDirectory implements LoginHintDirectory {
  constructor(private readonly db: Db) {}

  private async one(where: Record<string, string>): Promise<Account | undefined> {
    const row = await this.db('accounts').where(where).first();
    return row ? accountFromRow(row) : undefined;
  }

  findById(id: string): Promise<Account | undefined> {
    return this.one({ id });
  }

  findByEmail(email: string): Promise<Account | undefined> {
    return this.one({ email });
  }

  findByExternalId(externalId: string): Promise<Account | undefined> {
    return this.one({ external_id: externalId });
  }
}
