/**
 * The baseline: a bare oidc-provider (in-memory adapter, no hosted pages, no rate limits, no
 * logs) with the smallest passkey interaction that does the same steps as Latchkey's sign-in:
 * an interaction page, authentication options with a stored challenge, a verified assertion
 * (@simplewebauthn/server), a grant, and the code and token exchange. Accounts and passkeys
 * live in Maps. It answers the question "what does the protocol plus WebAuthn cost by itself?".
 * With BENCH_STORE_FILE it keeps oidc-provider's state in SQLite instead (baseline-store.ts).
 */
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type WebAuthnCredential,
} from '@simplewebauthn/server';
import Koa from 'koa';
import mount from 'koa-mount';
import Provider, { type ClientMetadata } from 'oidc-provider';
import { openBaselineStore } from './baseline-store.ts';
import { announceReady, serveStats } from './ipc.ts';

const port = Number(process.env.PORT ?? 0);
const issuer = process.env.BENCH_ISSUER!;
const rpID = new URL(issuer).hostname;
const client = JSON.parse(process.env.BENCH_CLIENT!) as ClientMetadata;

const jwk = (alg: 'ES256' | 'RS256') => {
  const { privateKey } = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg, use: 'sig' };
};

interface Account {
  id: string;
  email: string;
  credentials: Map<string, WebAuthnCredential>;
}
const accounts = new Map<string, Account>();
const byCredential = new Map<string, Account>();
const challenges = new Map<string, string>();

const cookieKeys = [randomBytes(32).toString('base64url')];
// BENCH_STORE_FILE: oidc-provider's state in SQLite (the persisting baseline), else in memory.
const adapter = process.env.BENCH_STORE_FILE ? await openBaselineStore(process.env.BENCH_STORE_FILE) : undefined;
const provider = new Provider(issuer, {
  ...(adapter ? { adapter } : {}),
  clients: [client],
  jwks: { keys: [jwk('ES256'), jwk('RS256')] } as never,
  cookies: { keys: cookieKeys, long: { signed: true, httpOnly: true, sameSite: 'lax' }, short: { signed: true, httpOnly: true, sameSite: 'lax' } },
  claims: { openid: ['sub', 'acr', 'amr', 'auth_time'], email: ['email', 'email_verified'] },
  scopes: ['openid', 'offline_access', 'email'],
  responseTypes: ['code'],
  pkce: { required: () => true },
  clientDefaults: { id_token_signed_response_alg: 'ES256', require_auth_time: true, grant_types: ['authorization_code', 'refresh_token'] },
  features: { devInteractions: { enabled: false }, clientCredentials: { enabled: true }, revocation: { enabled: true } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  rotateRefreshToken: true,
  ttl: { AccessToken: 600, AuthorizationCode: 60, ClientCredentials: 600, IdToken: 600, Interaction: 3600, Grant: 14 * 24 * 3600, RefreshToken: 14 * 24 * 3600, Session: 14 * 24 * 3600 },
  async findAccount(_ctx, sub) {
    const account = accounts.get(sub);
    return account && { accountId: account.id, claims: async () => ({ sub: account.id, email: account.email, email_verified: true }) };
  },
});

const app = new Koa();
app.keys = cookieKeys;
const router = new Router();
const json = bodyParser({ enableTypes: ['json'] });

router.get('/interaction/:uid', async (ctx) => {
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  ctx.type = 'html';
  ctx.body = `<!doctype html><title>Sign in</title><main data-uid="${details.uid}"><button>Sign in with a passkey</button></main>`;
});

router.post('/interaction/:uid/passkey/options', async (ctx) => {
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const options = await generateAuthenticationOptions({ rpID, userVerification: 'required' });
  challenges.set(details.uid, options.challenge);
  ctx.body = options;
});

router.post('/interaction/:uid/passkey/verify', json, async (ctx) => {
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const expectedChallenge = challenges.get(details.uid);
  challenges.delete(details.uid);
  const response = ctx.request.body as { id: string };
  const account = byCredential.get(response.id);
  const credential = account?.credentials.get(response.id);
  if (!expectedChallenge || !account || !credential) {
    ctx.status = 400;
    ctx.body = { error: 'unknown credential' };
    return;
  }
  const { verified, authenticationInfo } = await verifyAuthenticationResponse({
    response: response as never,
    expectedChallenge,
    expectedOrigin: new URL(issuer).origin,
    expectedRPID: rpID,
    credential,
    requireUserVerification: true,
  });
  if (!verified) {
    ctx.status = 400;
    ctx.body = { error: 'not verified' };
    return;
  }
  credential.counter = authenticationInfo.newCounter;
  // The grant a consent page (or a first-party client) would give.
  const grant = new provider.Grant({ accountId: account.id, clientId: String(details.params.client_id) });
  grant.addOIDCScope(String(details.params.scope));
  const grantId = await grant.save();
  const redirectTo = await provider.interactionResult(
    ctx.req,
    ctx.res,
    { login: { accountId: account.id, acr: 'phrh', amr: ['pop', 'hwk', 'user', 'mfa'] }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
  ctx.body = { redirectTo };
});

// Setup only (not measured): register an account and its passkey.
router.post('/bench/register/options', json, async (ctx) => {
  const { email } = ctx.request.body as { email: string };
  const id = randomUUID();
  accounts.set(id, { id, email, credentials: new Map() });
  const options = await generateRegistrationOptions({ rpID, rpName: 'Baseline', userName: email, userID: new TextEncoder().encode(id), authenticatorSelection: { residentKey: 'required', userVerification: 'required' } });
  challenges.set(id, options.challenge);
  ctx.body = { accountId: id, options };
});

router.post('/bench/register/verify', json, async (ctx) => {
  const { accountId, response } = ctx.request.body as { accountId: string; response: never };
  const result = await verifyRegistrationResponse({ response, expectedChallenge: challenges.get(accountId)!, expectedOrigin: new URL(issuer).origin, expectedRPID: rpID });
  const account = accounts.get(accountId)!;
  const credential = result.registrationInfo!.credential;
  account.credentials.set(credential.id, credential);
  byCredential.set(credential.id, account);
  ctx.body = { ok: true };
});

app.use(router.routes());
app.use(mount(provider));

serveStats();
const server = createServer(app.callback());
server.listen(port, '127.0.0.1', () => announceReady((server.address() as { port: number }).port));
