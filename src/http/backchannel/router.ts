import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';
import { describeAuthorizationDetail, TRANSFER_TYPE } from '../../domain/authorization-details.ts';
import type { Backchannel } from '../../domain/backchannel.ts';
import type { RateLimits } from '../middleware/rate-limit.ts';
import { guardCeremonyPages } from '../middleware/ceremony-page.ts';
import { formatMoney, translate, type Locale } from '../../i18n/index.ts';
import type { ClientPresenter } from '../client-view.ts';
import { localeOf } from '../locale.ts';
import type { Render } from '../views.ts';

export const APPROVE_PATH = '/approve';

/** A detail of the request in the person's language: a transfer's title and field names are translated, values never. */
function detailView(locale: Locale, detail: Record<string, unknown>): { title: string; lines: { label: string; value: string }[] } {
  const described = describeAuthorizationDetail(detail, (amount, currency) => formatMoney(locale, amount, currency));
  return {
    title: described.type === TRANSFER_TYPE ? translate(locale, 'detail.transfer') : described.type,
    lines: described.lines.map((line) => ({ label: translate(locale, `detail.${line.field}`), value: line.value })),
  };
}

/**
 * The page a backchannel request's link opens: the application, the binding message and what
 * it asks, then "Approve" (a user-verified passkey ceremony bound to this request) or "Deny".
 * The decision goes to oidc-provider, whose token endpoint answers the application.
 */
export function approvalRouter(deps: {
  provider: Provider;
  present: ClientPresenter;
  backchannel: Backchannel;
  render: Render;
  csrf: { issue: Middleware; verify: Middleware };
  limits: RateLimits;
  clock: () => number;
  /** A ping (CIBA ping mode) that did not reach the client; the decision stands and it can still poll. */
  reportPingFailure?: (error: unknown) => void;
}): Router {
  const { provider, backchannel, render, csrf } = deps;
  const router = new Router({ prefix: APPROVE_PATH });

  /**
   * Hands the decision to oidc-provider, which saves it and, for a ping-mode client, notifies
   * its endpoint. The person's answer is recorded before the ping, so a receiver that is down
   * or answers badly is reported, not shown to the person as a failure.
   */
  async function decide(requestId: string, result: Parameters<Provider['backchannelResult']>[1], extra?: Parameters<Provider['backchannelResult']>[2]): Promise<void> {
    try {
      await provider.backchannelResult(requestId, result, extra);
    } catch (error) {
      // oidc-provider pings after saving: when the decision is saved, the failure was the ping's.
      const saved = await provider.BackchannelAuthenticationRequest.find(requestId, { ignoreExpiration: true });
      if (!saved?.grantId && !saved?.error) throw error;
      deps.reportPingFailure?.(error);
    }
  }
  // JSON for the ceremony, a form for "Deny".
  const body = bodyParser({ enableTypes: ['json', 'form'], jsonLimit: '32kb', formLimit: '8kb', jsonStrict: true });
  guardCeremonyPages(router, { body, limits: deps.limits, csrf });

  router.get('/done', async (ctx) => {
    const denied = ctx.query.result === 'denied';
    const locale = localeOf(ctx);
    ctx.body = render('approve-done.njk', locale, { title: translate(locale, denied ? 'approve.deniedTitle' : 'approve.approvedTitle'), denied });
  });

  router.get('/:token', async (ctx) => {
    const { approval, account } = await backchannel.pending(ctx.params.token!);
    const client = deps.present(await provider.Client.find(approval.clientId), approval.clientId);
    const locale = localeOf(ctx);
    ctx.body = render('approve.njk', locale, {
      title: translate(locale, 'approve.title', { client: client.name }),
      client,
      email: account.email,
      bindingMessage: approval.bindingMessage,
      details: (approval.details ?? []).map((detail) => detailView(locale, detail)),
      action: `${APPROVE_PATH}/${ctx.params.token}`,
      csrfToken: ctx.state.csrfToken,
    });
  });

  router.post('/:token/passkey/options', async (ctx) => {
    ctx.body = await backchannel.approvalOptions(ctx.params.token!);
  });

  router.post('/:token/passkey/verify', async (ctx) => {
    const { approval, context } = await backchannel.approve(ctx.params.token!, ctx.request.body);
    const grant = new provider.Grant({ clientId: approval.clientId, accountId: approval.accountId });
    if (approval.scope) grant.addOIDCScope(approval.scope);
    await grant.save();
    // acr, amr and auth_time come from the ceremony just verified, never from the request.
    await decide(approval.requestId, grant, {
      acr: context.acr,
      amr: [...context.amr],
      authTime: Math.floor(deps.clock() / 1000),
      // The authorization_details the person saw and approved go into the tokens.
      ...(approval.details ? { rar: approval.details as never } : {}),
    });
    ctx.body = { redirectTo: `${APPROVE_PATH}/done` };
  });

  router.post('/:token/deny', async (ctx) => {
    const approval = await backchannel.deny(ctx.params.token!);
    await decide(approval.requestId, new errors.AccessDenied('the person denied the request'));
    ctx.redirect(`${APPROVE_PATH}/done?result=denied`);
    ctx.status = 303;
  });

  return router;
}
