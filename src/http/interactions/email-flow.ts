import type Router from '@koa/router';
import type Provider from 'oidc-provider';
import type { AuthContext } from '../../domain/auth-context.ts';
import type { EmailProvenPasskeyFlow } from '../../domain/email-proven-flow.ts';
import { PASSKEY_NAME_MAX } from '../../domain/account/passkey-names.ts';
import { errorMessage, translate, type MessageKey } from '../../i18n/index.ts';
import type { ClientPresenter } from '../client-view.ts';
import { localeOf } from '../locale.ts';
import type { Render } from '../views.ts';
import { clientView, finishAsJson, loadInteraction, policyOf, requirePrompt } from './context.ts';

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

type LoginResult = (accountId: string, context: AuthContext) => Parameters<typeof finishAsJson>[2];

/**
 * Registers the pages of an email-proven passkey flow: email → code → create a passkey.
 * Sign-up and recovery differ only in their domain service and their words.
 */
export function addEmailFlowRoutes(router: Router, route: EmailFlowRoute, deps: { provider: Provider; present: ClientPresenter; render: Render; loginResult: LoginResult }): void {
  const { provider, render } = deps;
  const { path, flow, texts } = route;
  const base = (uid: string) => `/interaction/${uid}/${path}`;

  router.get(`/${path}`, async (ctx) => {
    const interaction = await loadInteraction(provider, ctx);
    const client = await clientView(provider, deps.present, interaction);
    ctx.set('Cache-Control', 'no-store');
    const locale = localeOf(ctx);
    ctx.body = render('email-start.njk', locale, { title: translate(locale, texts.startTitle), texts, action: base(interaction.uid), uid: interaction.uid, client, csrfToken: ctx.state.csrfToken });
  });

  router.post(`/${path}`, async (ctx) => {
    const interaction = await loadInteraction(provider, ctx);
    requirePrompt(interaction, 'login');
    // The mail speaks the language negotiated for this interaction.
    const email = await flow.start(interaction.uid, (ctx.request.body as { email?: unknown }).email, localeOf(ctx));
    ctx.status = 303;
    ctx.redirect(`${base(interaction.uid)}/code?email=${encodeURIComponent(email)}`);
  });

  router.get(`/${path}/code`, async (ctx) => {
    const interaction = await loadInteraction(provider, ctx);
    const client = await clientView(provider, deps.present, interaction);
    ctx.set('Cache-Control', 'no-store');
    const email = typeof ctx.query.email === 'string' ? ctx.query.email : '';
    const locale = localeOf(ctx);
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
      const status = (error as { status?: number }).status;
      if (ctx.accepts('html', 'json') === 'json' || status === undefined || status >= 500) throw error;
      ctx.status = status;
      const locale = localeOf(ctx);
      ctx.body = render('email-code.njk', locale, {
        title: translate(locale, 'emailCode.title'),
        action: base(interaction.uid),
        uid: interaction.uid,
        client: await clientView(provider, deps.present, interaction),
        email: typeof form.email === 'string' ? form.email : '',
        error: errorMessage(locale, (error as { code?: string }).code ?? 'invalid_request', (error as Error).message, { max: PASSKEY_NAME_MAX }),
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
      client: await clientView(provider, deps.present, interaction),
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
    const { account, context } = await flow.complete(interaction.uid, ctx.request.body, await policyOf(provider, interaction), localeOf(ctx));
    await finishAsJson(provider, ctx, deps.loginResult(account.id, context));
  });
}
