import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context, Middleware } from 'koa';
import type { AccountSelfService } from '../../domain/account/self-service.ts';
import type { SignedInSession } from '../../domain/account/types.ts';
import { DomainError } from '../../domain/errors.ts';
import type { LimitName, RateLimits } from '../middleware/rate-limit.ts';
import { errorMessage, translate, type MessageKey } from '../../i18n/index.ts';
import { PASSKEY_NAME_MAX } from '../../domain/account/passkey-names.ts';
import { localeOf } from '../locale.ts';
import type { Render } from '../views.ts';
import type { AccountSignIn } from './sign-in.ts';
import { accountPageView, setFlash, takeFlash, type Flash } from './view.ts';

export interface AccountRouteDeps {
  readonly service: AccountSelfService;
  readonly signIn: AccountSignIn;
  readonly render: Render;
  readonly csrf: { issue: Middleware; verify: Middleware };
  readonly limits: RateLimits;
  readonly rpId: string;
  readonly reauthSeconds: number;
  /** Cookies over https only. */
  readonly secure: boolean;
}

/** Sentences for the ways an account sign-in can come back without the person signed in. */
const CALLBACK_ERRORS: Record<string, MessageKey> = {
  state: 'account.callbackState',
  access_denied: 'account.callbackCancelled',
  unmet_authentication_requirements: 'account.callbackUnmet',
  login_required: 'account.callbackLoginRequired',
};

/** The passkey ceremony spends the same budgets as on the sign-in pages; the other forms are cheap. */
function limitOf(ctx: Context): { name: LimitName; subject?: string } | undefined {
  if (ctx.path === '/account/passkeys/options') return { name: 'ceremonyOptions' };
  if (ctx.path === '/account/passkeys/verify') {
    const id = (ctx.request.body as { id?: unknown } | undefined)?.id;
    return { name: 'ceremonyVerify', subject: typeof id === 'string' ? id.slice(0, 200) : undefined };
  }
  return undefined;
}

function wantsJson(ctx: Context): boolean {
  return ctx.accepts('html', 'json') === 'json' || ctx.is('application/json') === 'application/json';
}

/**
 * The self-service account page at /account: passkeys, sessions and application access of the
 * person signed in to Latchkey itself. Each route reads the server-side session, calls one
 * domain function and redirects back to the page (forms) or answers JSON (passkey ceremony).
 */
export function accountRouter(deps: AccountRouteDeps): Router {
  const { service, signIn, render, csrf } = deps;
  const router = new Router({ prefix: '/account' });
  const body = bodyParser({ enableTypes: ['json', 'form'], jsonLimit: '32kb', formLimit: '8kb', jsonStrict: true });

  router.use(csrf.issue);
  router.use(async (ctx, next) => {
    // Personal data and one-time tokens: never cached.
    ctx.set('Cache-Control', 'no-store');
    if (ctx.method !== 'POST') return next();
    // Every state-changing request: bounded body, its rate budget, then the CSRF check.
    await body(ctx, async () => {
      const limit = limitOf(ctx);
      if (limit) await deps.limits.consume(limit.name, ctx.ip, limit.subject);
      await csrf.verify(ctx, next);
    });
  });

  const field = (ctx: Context, name: string): unknown => (ctx.request.body as Record<string, unknown> | undefined)?.[name];

  async function showPage(ctx: Context, session: SignedInSession, extra: { flash?: Flash; error?: string } = {}): Promise<void> {
    const overview = await service.overview(session);
    const locale = localeOf(ctx);
    ctx.type = 'html';
    ctx.body = render('account.njk', locale, accountPageView(overview, { locale, csrfToken: ctx.state.csrfToken, rpId: deps.rpId, reauthSeconds: deps.reauthSeconds, ...extra }));
  }

  function message(ctx: Context, status: number, title: MessageKey, text: MessageKey, link: { href: string; label: MessageKey }): void {
    const locale = localeOf(ctx);
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = render('account-message.njk', locale, {
      title: translate(locale, title),
      text: translate(locale, text),
      link: { href: link.href, label: translate(locale, link.label) },
    });
  }

  /** The signed-in session, with the page's language for the mails a change sends. */
  async function currentSession(ctx: Context): Promise<SignedInSession | undefined> {
    const session = await signIn.current(ctx);
    return session && { ...session, locale: localeOf(ctx) };
  }

  /** The session a POST acts for; a signed-out JSON caller gets 401. */
  async function requireSession(ctx: Context): Promise<SignedInSession> {
    const session = await currentSession(ctx);
    if (!session) throw new DomainError('account_sign_in_required', 'Sign in to change your account.');
    return session;
  }

  /**
   * A form on the page: on success back to the page with a notice; on a refusal the page again
   * with the reason; when the change needs a fresh passkey ceremony, through re-authentication.
   */
  function form(action: (ctx: Context, session: SignedInSession) => Promise<Flash | 'signed-out'>): (ctx: Context) => Promise<void> {
    return async (ctx) => {
      const session = await currentSession(ctx);
      if (!session) {
        if (wantsJson(ctx)) throw new DomainError('account_sign_in_required', 'Sign in to change your account.');
        ctx.status = 303;
        ctx.redirect('/account');
        return;
      }
      let outcome: Flash | 'signed-out';
      try {
        outcome = await action(ctx, session);
      } catch (error) {
        if (!(error instanceof DomainError) || wantsJson(ctx)) throw error;
        if (error.code === 'reauthentication_required') {
          ctx.status = 303;
          ctx.redirect('/account/reauth');
          return;
        }
        if (error.code === 'account_disabled' || error.code === 'account_sign_in_required') throw error;
        ctx.status = error.status;
        await showPage(ctx, session, { error: errorMessage(localeOf(ctx), error.code, error.message, { max: PASSKEY_NAME_MAX }) });
        return;
      }
      ctx.status = 303;
      if (outcome === 'signed-out') {
        ctx.redirect('/account/signed-out');
        return;
      }
      setFlash(ctx, outcome, deps.secure);
      ctx.redirect('/account');
    };
  }

  router.get('/', async (ctx) => {
    const session = await signIn.current(ctx);
    if (!session) {
      signIn.redirect(ctx, 'signin');
      return;
    }
    const flash = takeFlash(ctx);
    await showPage(ctx, session, flash ? { flash } : {});
  });

  router.get('/callback', async (ctx) => {
    const result = signIn.callback(ctx);
    if (!result.ok) {
      const text = Object.hasOwn(CALLBACK_ERRORS, result.reason) ? CALLBACK_ERRORS[result.reason]! : 'account.callbackFailed';
      message(ctx, 400, 'account.notSignedIn', text, { href: '/account', label: 'account.signInLink' });
      return;
    }
    if (result.purpose === 'reauth') setFlash(ctx, { notice: 'reauthenticated' }, deps.secure);
    ctx.status = 303;
    ctx.redirect('/account');
  });

  // Adding or removing a passkey needs a recent passkey ceremony: this starts one.
  router.get('/reauth', async (ctx) => {
    signIn.redirect(ctx, (await signIn.current(ctx)) ? 'reauth' : 'signin');
  });

  router.get('/signed-out', async (ctx) => {
    message(ctx, 200, 'account.signedOutTitle', 'account.signedOutText', { href: '/account', label: 'account.signInAgain' });
  });

  // Add a passkey: options for a new credential (the account's own excluded), then verify.
  router.post('/passkeys/options', async (ctx) => {
    ctx.body = await service.registrationOptions(await requireSession(ctx));
  });

  router.post('/passkeys/verify', async (ctx) => {
    const added = await service.addPasskey(await requireSession(ctx), ctx.request.body);
    setFlash(ctx, { notice: 'added' }, deps.secure);
    ctx.body = { redirectTo: '/account', passkey: { id: added.id, name: added.name } };
  });

  router.post(
    '/passkeys/rename',
    form(async (ctx, session) => {
      await service.renamePasskey(session, field(ctx, 'passkey'), field(ctx, 'name'));
      return { notice: 'renamed' };
    }),
  );

  router.post(
    '/passkeys/remove',
    form(async (ctx, session) => {
      const removed = await service.removePasskey(session, field(ctx, 'passkey'));
      return { notice: 'removed', removed: removed.id };
    }),
  );

  router.post(
    '/sessions/end',
    form(async (ctx, session) => {
      const { current } = await service.endSession(session, field(ctx, 'session'));
      return current ? 'signed-out' : { notice: 'session_ended' };
    }),
  );

  router.post(
    '/grants/revoke',
    form(async (ctx, session) => {
      await service.revokeApplication(session, field(ctx, 'client'));
      return { notice: 'revoked' };
    }),
  );

  return router;
}
