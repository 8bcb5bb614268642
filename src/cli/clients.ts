import { randomBytes, randomUUID } from 'node:crypto';
import type { ClientMetadata } from 'oidc-provider';
import type { Config } from '../config/env.ts';
import { systemClock } from '../domain/clock.ts';
import { createLogger } from '../logging.ts';
import type { Db } from '../storage/db.ts';
import { KnexClientStore } from '../storage/repositories/clients.ts';
import { parse, UsageError, type Output } from './output.ts';

interface Deps {
  readonly config: Config;
  readonly db: Db;
  readonly out: Output;
}

const CLIENT_ID = /^[A-Za-z0-9._~-]{1,200}$/;

/**
 * Checks metadata exactly as the running provider will when it loads the client (Latchkey's
 * own fields included), so a bad client is refused here rather than failing sign-ins later.
 */
async function validate(config: Config, db: Db, metadata: ClientMetadata): Promise<void> {
  const silent = createLogger('silent');
  // Loaded here: only this command needs the whole app (and oidc-provider's start-up cost).
  const { createApp } = await import('../app.ts');
  const { provider } = await createApp({
    config,
    db,
    logger: silent,
    mailer: { send: async () => undefined },
    clients: [],
    clock: systemClock,
  });
  try {
    await provider.Client.validate(metadata);
  } catch (error) {
    const e = error as { error?: string; error_description?: string; message: string };
    throw new UsageError(`invalid client: ${e.error_description ?? e.message}`);
  }
}

/** `latchkey clients list|add|remove`: clients stored in the database. */
export async function clientsCommand(args: string[], { config, db, out }: Deps): Promise<number> {
  const [sub, ...rest] = args;
  const store = new KnexClientStore(db);
  switch (sub) {
    case 'list': {
      const { values } = parse(rest, { json: { type: 'boolean' } });
      // Secrets stay in the database: listing never prints them.
      const clients = (await store.list()).map(({ client_secret: _secret, ...metadata }) => metadata);
      if (values.json) out.print(JSON.stringify(clients, null, 2));
      else if (clients.length === 0) out.print('no clients in the database');
      else for (const c of clients) out.print(`${c.client_id}  ${c.client_name ?? ''}  ${((c.redirect_uris as string[] | undefined) ?? []).join(' ')}`);
      return 0;
    }
    case 'add': {
      const { values } = parse(rest, {
        id: { type: 'string' },
        name: { type: 'string' },
        'redirect-uri': { type: 'string', multiple: true },
        'post-logout-redirect-uri': { type: 'string', multiple: true },
        'grant-type': { type: 'string', multiple: true },
        public: { type: 'boolean' },
        'first-party': { type: 'boolean' },
        'minimum-acr': { type: 'string' },
      });
      const grantTypes = values['grant-type'] ?? ['authorization_code', 'refresh_token'];
      const redirectUris = values['redirect-uri'] ?? [];
      if (redirectUris.length === 0 && grantTypes.includes('authorization_code')) {
        throw new UsageError('clients add needs at least one --redirect-uri');
      }
      const clientId = values.id ?? randomUUID();
      if (!CLIENT_ID.test(clientId)) throw new UsageError('--id may hold letters, digits and . _ ~ - (at most 200)');
      if (await store.find(clientId)) {
        out.error(`latchkey: a client ${clientId} already exists; remove it first or choose another --id`);
        return 1;
      }
      const metadata: ClientMetadata = {
        client_id: clientId,
        ...(values.public ? { token_endpoint_auth_method: 'none' } : { client_secret: randomBytes(32).toString('base64url') }),
        client_id_issued_at: Math.floor(Date.now() / 1000),
        ...(values.name ? { client_name: values.name } : {}),
        redirect_uris: redirectUris,
        ...(values['post-logout-redirect-uri'] ? { post_logout_redirect_uris: values['post-logout-redirect-uri'] } : {}),
        grant_types: grantTypes,
        response_types: grantTypes.includes('authorization_code') ? ['code'] : [],
        ...(values['first-party'] ? { first_party: true } : {}),
        ...(values['minimum-acr'] ? { minimum_acr: values['minimum-acr'] } : {}),
      };
      await validate(config, db, metadata);
      await store.save(metadata as ClientMetadata & { client_id: string });
      out.print(JSON.stringify({ client_id: clientId, ...(metadata.client_secret ? { client_secret: metadata.client_secret } : {}) }, null, 2));
      if (metadata.client_secret) out.error('Keep the client secret now: `clients list` never shows it.');
      return 0;
    }
    case 'remove': {
      const { positionals } = parse(rest, {});
      const [clientId] = positionals;
      if (!clientId || positionals.length > 1) throw new UsageError('clients remove needs one CLIENT_ID');
      if (!(await store.remove(clientId))) {
        out.error(`latchkey: no client ${clientId} in the database`);
        return 1;
      }
      out.print(`removed ${clientId} and every grant and token issued to it`);
      return 0;
    }
    default:
      throw new UsageError(sub ? `unknown clients command "${sub}"` : 'clients needs a command: list, add or remove');
  }
}
