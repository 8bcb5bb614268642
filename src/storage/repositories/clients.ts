import type { AdapterPayload } from 'oidc-provider';
import type { Db } from '../db.ts';
import { forgetClient, KnexOidcAdapter } from '../oidc-adapter.ts';

/**
 * Clients stored in the database (dynamic registration and `latchkey clients add`), kept where
 * oidc-provider's adapter keeps them (model `Client`), so every node sees a change at once.
 * Clients from LATCHKEY_CLIENTS_FILE live in configuration, not here.
 */
export class KnexClientStore {
  private readonly adapter: KnexOidcAdapter;

  constructor(private readonly db: Db) {
    this.adapter = new KnexOidcAdapter(db, 'Client');
  }

  async save(metadata: AdapterPayload & { client_id: string }): Promise<void> {
    await this.adapter.upsert(metadata.client_id, metadata);
  }

  async find(clientId: string): Promise<AdapterPayload | undefined> {
    return this.adapter.find(clientId);
  }

  async list(): Promise<AdapterPayload[]> {
    const rows = await this.db('oidc_payloads').where({ model: 'Client' }).orderBy('id').select('payload');
    return rows.map((row) => JSON.parse(String(row.payload)) as AdapterPayload);
  }

  /**
   * Removes the client and every grant, code and token issued to it, in one transaction.
   * Returns false when there was no such client.
   */
  async remove(clientId: string): Promise<boolean> {
    const removed = await this.db.transaction(async (trx) => {
      const removed = await trx('oidc_payloads').where({ model: 'Client', id: clientId }).delete();
      if (removed === 0) return false;
      await trx('oidc_payloads').where({ client_id: clientId }).delete();
      return true;
    });
    forgetClient(this.db, clientId);
    return removed;
  }
}
