import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { SignedInSession } from '../../domain/account/types.ts';

const STATE_COOKIE = 'latchkey.account.signin';
/** As long as an interaction lives: sign-up (email code included) happens within it. */
const STATE_TTL_MS = 60 * 60 * 1000;

/** Why the account page sends the person through the authorization endpoint. */
export type SignInPurpose = 'signin' | 'reauth';

export interface AccountSignInOptions {
  readonly provider: Provider;
  readonly issuer: string;
  readonly clientId: string;
  readonly callbackPath: string;
  /** The acr a re-authentication asks for: a user-verified passkey. */
  readonly passkeyAcr: string;
  readonly secure: boolean;
}

/** The outcome of the authorization request, as the callback sees it. */
export type CallbackResult =
  | { readonly ok: true; readonly purpose: SignInPurpose }
  /** `state` when the browser did not start this sign-in, else the OAuth error it came back with. */
  | { readonly ok: false; readonly reason: string };

/**
 * Signing in to Latchkey's own pages. The account page is a client of Latchkey's authorization
 * endpoint, so every way of signing in (passkey, sign-up, recovery, step-up) works unchanged;
 * what signs the person in here is the session oidc-provider keeps, read on every request.
 */
export class AccountSignIn {
  constructor(private readonly options: AccountSignInOptions) {}

  /** The signed-in session of this browser, from oidc-provider's session cookie; undefined when signed out. */
  async current(ctx: Context): Promise<SignedInSession | undefined> {
    const session = await this.options.provider.Session.get(ctx);
    if (!session.accountId) return undefined;
    return {
      uid: session.uid,
      accountId: session.accountId,
      ...(session.acr !== undefined ? { acr: session.acr } : {}),
      ...(session.authTime() !== undefined ? { authTime: session.authTime() } : {}),
    };
  }

  /**
   * Sends the browser to the authorization endpoint. A re-authentication asks for a fresh
   * passkey ceremony: max_age=0 (and prompt=login, which also covers a session that signed in
   * within the same second) with a passkey-level acr, so the step-up page asks for a passkey.
   */
  redirect(ctx: Context, purpose: SignInPurpose): void {
    const state = randomBytes(32).toString('base64url');
    ctx.cookies.set(STATE_COOKIE, `${state}.${purpose}`, {
      signed: true,
      httpOnly: true,
      sameSite: 'lax',
      secure: this.options.secure,
      path: '/account',
      maxAge: STATE_TTL_MS,
      overwrite: true,
    });
    const params = new URLSearchParams({
      client_id: this.options.clientId,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: `${this.options.issuer}${this.options.callbackPath}`,
      // PKCE is required of every client. This challenge is random bytes whose "verifier" nobody
      // knows, so the code that comes back can never be redeemed, by us or by anyone who sees it.
      code_challenge: randomBytes(32).toString('base64url'),
      code_challenge_method: 'S256',
      state,
      ...(purpose === 'reauth' ? { max_age: '0', prompt: 'login', acr_values: this.options.passkeyAcr } : {}),
    });
    ctx.status = 303;
    ctx.redirect(`/auth?${params}`);
  }

  /**
   * Checks the callback against the state cookie of this browser. The authorization code is
   * never redeemed: the page needs no tokens, since oidc-provider has already set the session
   * cookie that the account page reads, and the code expires unused within a minute.
   */
  callback(ctx: Context): CallbackResult {
    const cookie = ctx.cookies.get(STATE_COOKIE, { signed: true });
    ctx.cookies.set(STATE_COOKIE, null, { path: '/account', overwrite: true });
    const [expected, purpose] = (cookie ?? '').split('.');
    const state = ctx.query.state;
    // Only the browser that started this sign-in may finish it.
    if (!expected || typeof state !== 'string' || !sameString(state, expected)) return { ok: false, reason: 'state' };
    if (typeof ctx.query.error === 'string') return { ok: false, reason: ctx.query.error };
    return { ok: true, purpose: purpose === 'reauth' ? 'reauth' : 'signin' };
  }
}

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
