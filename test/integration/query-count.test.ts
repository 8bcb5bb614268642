import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet } from 'jose';
import { refresh, signIn, signUpLatchkey, REDIRECT_URI, type Target } from '../../bench/flows.ts';
import { startLatchkey, type TestServer } from '../helpers/app.ts';
import { SoftwareAuthenticator } from '../helpers/authenticator.ts';
import { registerRelyingParty } from '../helpers/rp.ts';

/**
 * Pins how many database queries the hot paths cost (the benchmark's flows, on the default
 * SQLite), so that a change that adds round trips is noticed. Upper bounds: lower is fine.
 */
describe('database queries per operation', () => {
  // A first-party client from LATCHKEY_CLIENTS_FILE (as the benchmark uses): was 34 before the
  // ceremony metrics stopped loading the interaction again, 33 before events without a webhook
  // subscriber became a single INSERT, 31 once each session remembered its passkey (so that
  // removing a lost device's passkey signs its browsers out); 25 since the per-minute rate-limit
  // budgets live in memory on SQLite (5 upserts) and finishing an interaction reuses the copy
  // the request loaded (1 read).
  const SIGN_IN = 25;
  // A registered client, with its consent page: was 61 before clients were cached, 51 before
  // events became a single INSERT, 49 with the session's passkey, 43 as above. One more is
  // allowed: on a slow machine the cached copy may expire once during the flow.
  const SIGN_IN_REGISTERED_CLIENT = 43 + 1;
  // Was 8 before the token endpoint's per-minute budgets moved to memory on SQLite.
  const REFRESH = 6;
  let server: TestServer;
  let queries = 0;
  let firstParty: Target;
  let registered: Target;
  const counted = async (op: () => Promise<unknown>): Promise<{ queries: number }> => {
    const before = queries;
    await op();
    return { queries: queries - before };
  };

  before(async () => {
    const secret = randomBytes(32).toString('base64url');
    server = await startLatchkey({
      clients: [{ client_id: 'bench', client_secret: secret, redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], scope: 'openid email offline_access', first_party: true } as never],
    });
    server.db.on('query', () => queries++);
    const jwks = createRemoteJWKSet(new URL(`${server.issuer}/jwks`));
    firstParty = { issuer: server.issuer, clientId: 'bench', clientSecret: secret, csrf: true, jwks };
    const metadata = (await registerRelyingParty(server, { scope: 'openid email offline_access' })).clientMetadata();
    registered = { ...firstParty, clientId: metadata.client_id, clientSecret: String(metadata.client_secret) };
  });
  after(() => server?.close());

  it('pins a passkey sign-in flow and a refresh grant', async (t) => {
    const authenticator = new SoftwareAuthenticator({ origin: server.issuer });
    await signUpLatchkey(firstParty, authenticator, 'counted@example.com', async (email) => server.mailbox.lastCode(email));
    const { refresh_token } = await signIn(firstParty, authenticator, { offline: true }); // also warms up: keys, first grant

    const flow = await counted(() => signIn(firstParty, authenticator));
    const registeredFlow = await counted(() => signIn(registered, authenticator, { offline: true }));
    const refreshed = await counted(() => refresh(firstParty, String(refresh_token)));
    const report = `sign-in ${flow.queries}, with a registered client ${registeredFlow.queries}, refresh ${refreshed.queries}`;
    t.diagnostic(report);
    assert.ok(flow.queries <= SIGN_IN, report);
    assert.ok(registeredFlow.queries <= SIGN_IN_REGISTERED_CLIENT, report);
    assert.ok(refreshed.queries <= REFRESH, report);
  });
});
