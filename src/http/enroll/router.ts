import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Middleware } from 'koa';
import type { Enrollments } from '../../domain/enrollment.ts';
import type { RateLimits } from '../middleware/rate-limit.ts';
import { guardCeremonyPages } from '../middleware/ceremony-page.ts';
import { formatDateTime, translate } from '../../i18n/index.ts';
import type { ClientView } from '../client-view.ts';
import { localeOf } from '../locale.ts';
import type { Render } from '../views.ts';

export const ENROLL_PATH = '/enroll';

/**
 * The page an enrollment link opens: who invited the person, for which account, and
 * "Create a passkey". A used, expired or revoked link, or one for a disabled account, shows
 * the error page and changes nothing.
 */
export function enrollRouter(deps: {
  enrollments: Enrollments;
  /** The application whose backend created a link, for the page to name it. */
  findClient: (clientId: string) => Promise<ClientView | undefined>;
  render: Render;
  csrf: { issue: Middleware; verify: Middleware };
  limits: RateLimits;
}): Router {
  const { enrollments, render, csrf } = deps;
  const router = new Router({ prefix: ENROLL_PATH });
  const body = bodyParser({ enableTypes: ['json'], jsonLimit: '32kb', jsonStrict: true });
  guardCeremonyPages(router, { body, limits: deps.limits, csrf });

  router.get('/done', async (ctx) => {
    const locale = localeOf(ctx);
    ctx.body = render('enroll-done.njk', locale, { title: translate(locale, 'enroll.doneTitle') });
  });

  router.get('/:token', async (ctx) => {
    const { link, account } = await enrollments.open(ctx.params.token!);
    // Links made through the API name their backend client ("client:<id>"); the CLI's name none.
    const client = link.createdBy.startsWith('client:') ? await deps.findClient(link.createdBy.slice('client:'.length)) : undefined;
    const locale = localeOf(ctx);
    ctx.body = render('enroll.njk', locale, {
      title: translate(locale, 'enroll.title'),
      invitedBy: link.invitedBy,
      client,
      email: account.email,
      expiresAt: translate(locale, 'account.timeUtc', { time: formatDateTime(locale, link.expiresAt) }),
      action: `${ENROLL_PATH}/${ctx.params.token}`,
      csrfToken: ctx.state.csrfToken,
    });
  });

  router.post('/:token/passkey/options', async (ctx) => {
    ctx.body = await enrollments.passkeyOptions(ctx.params.token!);
  });

  router.post('/:token/passkey/verify', async (ctx) => {
    await enrollments.complete(ctx.params.token!, ctx.request.body);
    ctx.body = { redirectTo: `${ENROLL_PATH}/done` };
  });

  return router;
}
