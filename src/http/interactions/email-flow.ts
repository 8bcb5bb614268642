import type Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { AuthContext } from '../../domain/auth-context.ts';
import type { EmailProvenPasskeyFlow } from '../../domain/email-proven-flow.ts';
import { PASSKEY_NAME_MAX } from '../../domain/account/passkey-names.ts';
import { errorMessage, translate, type MessageKey } from '../../i18n/index.ts';
import type { ClientPresenter } from '../client-view.ts';
import { localeOf } from '../locale.ts';
import type { Render } from '../views.ts';
import { clientView, finishAsJson, loadInteraction, policyOf, requirePrompt, type Interaction } from './context.ts';

/** The words of one email-proven flow's pages (catalogue keys). */
export interface FlowTexts {
  readonly startTitle: MessageKey;
  readonly startLead: MessageKey;
  readonly startHint: MessageKey;
  readonly passkeyTitle: MessageKey;
  /** Has an {email} placeholder. */
  readonly passkeyLead: MessageKey;
  readonly passkeyButton: MessageKey;
}

export interface EmailFlowRoute {
  /** URL segment under /interaction/:uid, e.g. `signup` or `recovery`. */
  readonly path: string;
  readonly flow: EmailProvenPasskeyFlow;
  readonly texts: FlowTexts;
}

type LoginResult = (accountId: string, context: AuthContext, passkeyId: string) => Parameters<typeof finishAsJson>[2];

/**
 * The status to re-show a form with, when `error` is the person's to fix (a wrong code, an
 * address the server refuses); undefined when it belongs on the error page (5xx, JSON callers).
 */
function fixableOnForm(ctx: Context, error: unknown): number | undefined {
  const status = (error as { status?: number }).status;
  if (ctx.accepts('html', 'json') === 'json' || status === undefined || status >= 500 || status === 429) return undefined;
  return status;
}

function errorText(ctx: Context, error: unknown): string {
  return errorMessage(localeOf(ctx), (error as { code?: string }).code ?? 'invalid_request', (error as Error).message, { max: PASSKEY_NAME_MAX });
}

/**
 * Registers the pages of an email-proven passkey flow: email → code → create a passkey.
 * Sign-up and recovery differ only in their domain service and their words.
 */
export function addEmailFlowRoutes(router: Router, route: EmailFlowRoute, deps: { provider: Provider; present: ClientPresenter; render: Render; loginResult: LoginResult }): void {
  const { provider, render } = deps;
  const { path, flow, texts } = route;
  const base = (uid: string) => `/interaction/${uid}/${path}`;

  const startPage = async (ctx: Context, interaction: Interaction, shown: { email?: string; error?: string } = {}) => {
    const locale = localeOf(ctx);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = render('email-start.njk', locale, {
      title: translate(locale, texts.startTitle),
      texts,
      action: base(interaction.uid),
      uid: interaction.uid,
      client: await clientView(provider, deps.present, interaction, locale),
      csrfToken: ctx.state.csrfToken,
      ...shown,
    });
  };

  router.get(`/${path}`, async (ctx) => {
    await startPage(ctx, await loadInteraction(provider, ctx));
  });

  router.post(`/${path}`, async (ctx) => {
    const interaction = await loadInteraction(provider, ctx);
    requirePrompt(interaction, 'login');
    const entered = (ctx.request.body as { email?: unknown }).email;
    let email: string;
    try {
      // The mail speaks the language negotiated for this interaction.
      email = await flow.start(interaction.uid, entered, localeOf(ctx));
    } catch (error) {
      // An address the server refuses is shown next to the field, with what was typed.
      const status = fixableOnForm(ctx, error);
      if (status === undefined) throw error;
      ctx.status = status;
      await startPage(ctx, interaction, { email: typeof entered === 'string' ? entered.slice(0, 320) : '', error: errorText(ctx, error) });
      return;
    }
    ctx.status = 303;
    ctx.redirect(`${base(interaction.uid)}/code?email=${encodeURIComponent(email)}`);
  });

  router.get(`/${path}/code`, async (ctx) => {
    const interaction = await loadInteraction(provider, ctx);
    const locale = localeOf(ctx);
    const client = await clientView(provider, deps.present, interaction, locale);
    ctx.set('Cache-Control', 'no-store');
    const email = typeof ctx.query.email === 'string' ? ctx.query.email : '';
    ctx.body = render('email-code.njk', locale, { title: translate(locale, 'emailCode.title'), action: base(interaction.uid), uid: interaction.uid, client, email, csrfToken: ctx.state.csrfToken });
  });

  router.post(`/${path}/code`, async (ctx) => {
    const interaction = await loadInteraction(provider, ctx);
    requirePrompt(interaction, 'login');
    const form = ctx.request.body as { code?: unknown; email?: unknown };
    try {
      await flow.verifyCode(interaction.uid, form.code);
    } catch (error) {
      // A wrong code re-shows the form with the message, so the person can try again.
      const status = fixableOnForm(ctx, error);
      if (status === undefined) throw error;
      ctx.status = status;
      const locale = localeOf(ctx);
      ctx.body = render('email-code.njk', locale, {
        title: translate(locale, 'emailCode.title'),
        action: base(interaction.uid),
        uid: interaction.uid,
        client: await clientView(provider, deps.present, interaction, locale),
        email: typeof form.email === 'string' ? form.email : '',
        error: errorText(ctx, error),
        csrfToken: ctx.state.csrfToken,
      });
      return;
    }
    ctx.status = 303;
    ctx.redirect(`${base(interaction.uid)}/passkey`);
  });

  router.get(`/${path}/passkey`, async (ctx) => {
    const interaction = await loadInteraction(provider, ctx);
    ctx.set('Cache-Control', 'no-store');
    const email = await flow.provenEmail(interaction.uid);
    if (!email) {
      ctx.status = 303;
      ctx.redirect(base(interaction.uid));
      return;
    }
    const locale = localeOf(ctx);
    ctx.body = render('email-passkey.njk', locale, {
      title: translate(locale, texts.passkeyTitle),
      texts,
      action: base(interaction.uid),
      uid: interaction.uid,
      client: await clientView(provider, deps.present, interaction, locale),
      email,
      csrfToken: ctx.state.csrfToken,
    });
  });

  router.post(`/${path}/passkey/options`, async (ctx) => {
    const interaction = await loadInteraction(provider, ctx);
    requirePrompt(interaction, 'login');
    ctx.body = await flow.passkeyOptions(interaction.uid, await policyOf(provider, interaction));
  });

  router.post(`/${path}/passkey/verify`, async (ctx) => {
    const interaction = await loadInteraction(provider, ctx);
    requirePrompt(interaction, 'login');
    const { account, context, passkeyId } = await flow.complete(interaction.uid, ctx.request.body, await policyOf(provider, interaction), localeOf(ctx));
    await finishAsJson(provider, ctx, deps.loginResult(account.id, context, passkeyId));
  });
}
