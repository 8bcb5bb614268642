import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { AcrNames } from '../../config/env.ts';
import type { AccountRepository } from '../../domain/accounts.ts';
import type { Clock } from '../../domain/clock.ts';
import type { AuthContext } from '../../domain/auth-context.ts';
import { acrRank, meets } from '../../domain/step-up.ts';
import type { SignIn } from '../../domain/signin.ts';
import type { Recovery } from '../../domain/recovery.ts';
import type { Signup } from '../../domain/signup.ts';
import type { LimitName, RateLimits } from '../middleware/rate-limit.ts';
import type { Render } from '../views.ts';
import { DomainError } from '../../domain/errors.ts';
import { translate } from '../../i18n/index.ts';
import type { ClientPresenter } from '../client-view.ts';
import { localeOf } from '../locale.ts';
import { SESSION_PASSKEY } from '../session-passkeys.ts';
import { clientView, finishAsJson, loadInteraction, policyOf, requirePrompt } from './context.ts';
import { consentView, grantConsent } from './consent.ts';
import { addEmailFlowRoutes, type FlowTexts } from './email-flow.ts';
import { describeRequirement, isStepUp, requirementOf } from './step-up.ts';

const SIGNUP_TEXTS: FlowTexts = {
  startTitle: 'signup.startTitle',
  startLead: 'signup.startLead',
  startHint: 'signup.startHint',
  passkeyTitle: 'signup.passkeyTitle',
  passkeyLead: 'signup.passkeyLead',
  passkeyButton: 'signup.passkeyButton',
};

const RECOVERY_TEXTS: FlowTexts = {
  startTitle: 'recovery.startTitle',
  startLead: 'recovery.startLead',
  startHint: 'recovery.startHint',
  passkeyTitle: 'recovery.passkeyTitle',
  passkeyLead: 'recovery.passkeyLead',
  passkeyButton: 'recovery.passkeyButton',
};

export interface InteractionRouteDeps {
  readonly provider: Provider;
  /** What the pages show of the application (name, allowed logo, policy and terms links). */
  readonly present: ClientPresenter;
  readonly signIn: SignIn;
  readonly signup: Signup;
  /** Absent when recovery is turned off. */
  readonly recovery?: Recovery;
  readonly accounts: AccountRepository;
  readonly acr: AcrNames;
  readonly render: Render;
  readonly clock: Clock;
  readonly csrf: { issue: Middleware; verify: Middleware };
  readonly limits: RateLimits;
}

/** Which budget a POST under /interaction/:uid spends, and on what subject. */
function limitOf(ctx: Context): { name: LimitName; subject?: string } | undefined {
  const step = ctx.path.split('/').slice(3).join('/');
  const body = ctx.request.body as Record<string, unknown> | undefined;
  if (step === 'signup' || step === 'recovery') {
    return { name: 'codeSend', subject: typeof body?.email === 'string' ? body.email.trim().toLowerCase() : undefined };
  }
  if (step.endsWith('/code')) return { name: 'codeCheck', subject: ctx.params.uid };
  if (step.endsWith('/options')) return { name: 'ceremonyOptions' };
  if (step.endsWith('/verify')) return { name: 'ceremonyVerify', subject: typeof body?.id === 'string' ? body.id.slice(0, 200) : undefined };
  return undefined;
}

function loginResult(accountId: string, context: AuthContext, passkeyId: string, now: number) {
  // auth_time is the time of the ceremony that produced this acr. The passkey goes along so the
  // session can be signed out when it is removed (src/http/session-passkeys.ts).
  return { login: { accountId, acr: context.acr, amr: [...context.amr], ts: Math.floor(now / 1000) }, [SESSION_PASSKEY]: passkeyId };
}

/**
 * The hosted pages of an authorization request: sign in, sign up, consent. Each route loads the
 * interaction, calls one domain function, and hands the result back to oidc-provider.
 */
export function interactionRouter(deps: InteractionRouteDeps): Router {
  const { provider, render, csrf } = deps;
  const router = new Router({ prefix: '/interaction/:uid' });
  const body = bodyParser({ enableTypes: ['json', 'form'], jsonLimit: '32kb', formLimit: '8kb', jsonStrict: true });

  router.use(csrf.issue);
  // Every state-changing request: bounded body, its rate budget, then the CSRF check.
  router.use(async (ctx, next) => {
    if (ctx.method !== 'POST') return next();
    await body(ctx, async () => {
      const limit = limitOf(ctx);
      if (limit) await deps.limits.consume(limit.name, ctx.ip, limit.subject);
      await csrf.verify(ctx, next);
    });
  });

  router.get('/', async (ctx) => {
    const interaction = await loadInteraction(provider, ctx);
    const locale = localeOf(ctx);
    const client = await clientView(provider, deps.present, interaction, locale);
    ctx.set('Cache-Control', 'no-store');
    if (interaction.prompt.name === 'consent') {
      ctx.body = render('consent.njk', locale, {
        title: translate(locale, 'consent.title', { client: client.name }),
        uid: interaction.uid,
        client,
        csrfToken: ctx.state.csrfToken,
        ...consentView(interaction, locale),
      });
      return;
    }
    if (isStepUp(interaction)) {
      const account = await deps.accounts.findById(interaction.session!.accountId);
      const requirement = await requirementOf(provider, interaction, deps.acr);
      ctx.body = render('step-up.njk', locale, {
        title: translate(locale, 'stepUp.title', { client: client.name }),
        uid: interaction.uid,
        client,
        email: account?.email,
        asks: translate(locale, describeRequirement(requirement, interaction.prompt.reasons)),
        csrfToken: ctx.state.csrfToken,
      });
      return;
    }
    const loginHint = typeof interaction.params.login_hint === 'string' ? interaction.params.login_hint : '';
    ctx.body = render('login.njk', locale, {
      title: translate(locale, 'login.title', { client: client.name }),
      uid: interaction.uid,
      client,
      loginHint,
      recovery: Boolean(deps.recovery),
      csrfToken: ctx.state.csrfToken,
    });
  });

  // Sign in with a passkey: options for a discoverable ceremony (or username-first), then verify.
  router.post('/passkey/options', async (ctx) => {
    const interaction = await loadInteraction(provider, ctx);
    requirePrompt(interaction, 'login');
    if (isStepUp(interaction)) {
      // Step-up: only the signed-in person's own passkeys may answer.
      ctx.body = await deps.signIn.stepUpOptions(interaction.uid, interaction.session!.accountId, await policyOf(provider, interaction));
      return;
    }
    const email = (ctx.request.body as { email?: unknown } | undefined)?.email;
    ctx.body = await deps.signIn.options(interaction.uid, email, await policyOf(provider, interaction));
  });

  router.post('/passkey/verify', async (ctx) => {
    const interaction = await loadInteraction(provider, ctx);
    requirePrompt(interaction, 'login');
    const stepUpFor = isStepUp(interaction) ? interaction.session!.accountId : undefined;
    const { account, context, passkeyId } = await deps.signIn.verify(interaction.uid, ctx.request.body, await policyOf(provider, interaction), stepUpFor);
    if (isStepUp(interaction) && account.id !== interaction.session!.accountId) {
      throw new DomainError('passkey_wrong_account', 'This passkey belongs to another account.');
    }
    // A ceremony that falls short of what the application requires ends the request with
    // unmet_authentication_requirements and leaves the session as it was: never a weaker token.
    const requirement = await requirementOf(provider, interaction, deps.acr);
    if (!meets(acrRank(context.acr, deps.acr), requirement)) {
      await finishAsJson(provider, ctx, {
        error: 'unmet_authentication_requirements',
        error_description: 'the passkey used does not meet the authentication context the application requires',
      });
      return;
    }
    await finishAsJson(provider, ctx, loginResult(account.id, context, passkeyId, deps.clock()));
  });

  const finishLogin = (accountId: string, context: AuthContext, passkeyId: string) => loginResult(accountId, context, passkeyId, deps.clock());
  addEmailFlowRoutes(router, { path: 'signup', flow: deps.signup, texts: SIGNUP_TEXTS }, { provider, present: deps.present, render, loginResult: finishLogin });
  if (deps.recovery) {
    addEmailFlowRoutes(router, { path: 'recovery', flow: deps.recovery, texts: RECOVERY_TEXTS }, { provider, present: deps.present, render, loginResult: finishLogin });
  }

  router.post('/consent', async (ctx) => {
    const interaction = await loadInteraction(provider, ctx);
    requirePrompt(interaction, 'consent');
    const grantId = await grantConsent(provider, interaction);
    await provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    ctx.respond = false;
  });

  router.post('/abort', async (ctx) => {
    await loadInteraction(provider, ctx);
    await provider.interactionFinished(
      ctx.req,
      ctx.res,
      { error: 'access_denied', error_description: 'The person cancelled the request.' },
      { mergeWithLastSubmission: false },
    );
    ctx.respond = false;
  });

  return router;
}
