/**
 * What one simulated person or application does, over real HTTP: the passkey sign-in flow with
 * its code exchange and ID-token validation, refresh grants, client-credentials grants, and
 * the sign-up used during setup. The same steps run against Latchkey and the baseline.
 */
import { createHash, randomBytes } from 'node:crypto';
import { jwtVerify, type JWTVerifyGetKey } from 'jose';
import { SoftwareAuthenticator } from '../test/helpers/authenticator.ts';
import { HttpClient } from '../test/helpers/http.ts';

export const REDIRECT_URI = 'https://app.example.com/callback';

export interface Target {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Latchkey's pages carry a CSRF token; the baseline has none. */
  readonly csrf: boolean;
  readonly jwks: JWTVerifyGetKey;
}

const b64url = (bytes: Buffer) => bytes.toString('base64url');

function expectStatus(response: Response, status: number, step: string): void {
  if (response.status !== status) throw new Error(`${step}: HTTP ${response.status}`);
}

function basic(target: Target): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(target.clientId)}:${encodeURIComponent(target.clientSecret)}`).toString('base64')}`;
}

async function tokenRequest(target: Target, params: Record<string, string>): Promise<Record<string, unknown>> {
  const response = await fetch(`${target.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(target) },
    body: new URLSearchParams(params),
  });
  const body = (await response.json()) as Record<string, unknown>;
  if (response.status !== 200) throw new Error(`token (${params.grant_type}): HTTP ${response.status} ${String(body.error)}`);
  return body;
}

/** Where an interaction page stands: its uid and, on Latchkey, its CSRF token. */
interface Page {
  readonly uid: string;
  readonly csrf: string;
}

async function openPage(http: HttpClient, target: Target, location: string): Promise<Page> {
  const response = await http.get(location);
  expectStatus(response, 200, 'interaction page');
  const html = await response.text();
  const uid = new URL(location, target.issuer).pathname.split('/')[2]!;
  const csrf = target.csrf ? (/<meta name="csrf-token" content="([^"]+)">/.exec(html)?.[1] ?? '') : '';
  return { uid, csrf };
}

const postJson = (http: HttpClient, page: Page, path: string, body: unknown) =>
  http.request('POST', `/interaction/${page.uid}${path}`, { body, headers: page.csrf ? { 'x-csrf-token': page.csrf } : {} });

const postForm = (http: HttpClient, page: Page, path: string, form: Record<string, string>) =>
  http.request('POST', `/interaction/${page.uid}${path}`, { form: { csrf: page.csrf, ...form } });

/** Follows redirects inside the provider until the callback; accepts Latchkey's consent page. */
async function toCallback(http: HttpClient, target: Target, location: string): Promise<URL> {
  let next = location;
  for (let hop = 0; hop < 10; hop++) {
    const url = new URL(next, target.issuer);
    if (url.href.startsWith(REDIRECT_URI)) return url;
    const response = await http.get(url.href);
    if (response.status === 200 && url.pathname.startsWith('/interaction/')) {
      await response.body?.cancel();
      const page = await openPage(http, target, url.href);
      const consent = await postForm(http, page, '/consent', {});
      expectStatus(consent, 303, 'consent');
      next = consent.headers.get('location')!;
      continue;
    }
    if (response.status !== 302 && response.status !== 303) throw new Error(`redirect ${url.pathname}: HTTP ${response.status}`);
    await response.body?.cancel();
    next = response.headers.get('location')!;
  }
  throw new Error('too many redirects');
}

/**
 * One complete passkey sign-in in a fresh browser: authorization request → sign-in page →
 * options → assertion verified → grant → code → token exchange, with the ID token's
 * signature, issuer, audience and nonce checked. Returns the token response.
 */
export async function signIn(target: Target, authenticator: SoftwareAuthenticator, options: { offline?: boolean } = {}): Promise<Record<string, unknown>> {
  const http = new HttpClient(target.issuer);
  const verifier = b64url(randomBytes(32));
  const nonce = b64url(randomBytes(16));
  const params = new URLSearchParams({
    client_id: target.clientId,
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    scope: options.offline ? 'openid email offline_access' : 'openid email',
    code_challenge: b64url(createHash('sha256').update(verifier).digest()),
    code_challenge_method: 'S256',
    state: b64url(randomBytes(16)),
    nonce,
    ...(options.offline ? { prompt: 'consent' } : {}),
  });
  const start = await http.get(`/auth?${params}`);
  expectStatus(start, 303, 'authorization request');
  await start.body?.cancel();
  const page = await openPage(http, target, start.headers.get('location')!);
  const optionsResponse = await postJson(http, page, '/passkey/options', {});
  expectStatus(optionsResponse, 200, 'passkey options');
  const assertion = authenticator.getAssertion((await optionsResponse.json()) as never);
  const verified = await postJson(http, page, '/passkey/verify', assertion);
  expectStatus(verified, 200, 'passkey verify');
  const { redirectTo } = (await verified.json()) as { redirectTo: string };
  const callback = await toCallback(http, target, redirectTo);
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`no code: ${callback.searchParams.get('error')}`);
  const tokens = await tokenRequest(target, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier });
  const { payload } = await jwtVerify(String(tokens.id_token), target.jwks, { issuer: target.issuer, audience: target.clientId });
  if (payload.nonce !== nonce) throw new Error('ID token nonce mismatch');
  return tokens;
}

/** One refresh grant; returns the rotated refresh token. */
export async function refresh(target: Target, refreshToken: string): Promise<string> {
  const tokens = await tokenRequest(target, { grant_type: 'refresh_token', refresh_token: refreshToken });
  return String(tokens.refresh_token);
}

export async function clientCredentials(target: Target): Promise<void> {
  await tokenRequest(target, { grant_type: 'client_credentials' });
}

/** Setup: Latchkey's hosted sign-up (email → emailed code → passkey). */
export async function signUpLatchkey(target: Target, authenticator: SoftwareAuthenticator, email: string, codeFor: (email: string) => Promise<string>): Promise<void> {
  const http = new HttpClient(target.issuer);
  const params = new URLSearchParams({
    client_id: target.clientId,
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    scope: 'openid email',
    code_challenge: b64url(createHash('sha256').update('x'.repeat(43)).digest()),
    code_challenge_method: 'S256',
  });
  const start = await http.get(`/auth?${params}`);
  expectStatus(start, 303, 'authorization request');
  const page = await openPage(http, target, start.headers.get('location')!);
  expectStatus(await postForm(http, page, '/signup', { email }), 303, 'sign-up');
  expectStatus(await postForm(http, page, '/signup/code', { code: await codeFor(email) }), 303, 'sign-up code');
  const options = await postJson(http, page, '/signup/passkey/options', {});
  expectStatus(options, 200, 'registration options');
  const done = await postJson(http, page, '/signup/passkey/verify', authenticator.createCredential((await options.json()) as never));
  expectStatus(done, 200, 'registration');
}

/** Setup: the baseline's in-memory registration. */
export async function signUpBaseline(target: Target, authenticator: SoftwareAuthenticator, email: string): Promise<void> {
  const post = (path: string, body: unknown) => fetch(`${target.issuer}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const started = await post('/bench/register/options', { email });
  const { accountId, options } = (await started.json()) as { accountId: string; options: never };
  expectStatus(await post('/bench/register/verify', { accountId, response: authenticator.createCredential(options) }), 200, 'registration');
}
