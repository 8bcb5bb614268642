import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { RateLimits } from './rate-limit.ts';

/**
 * The guards of a page reached by a secret link that runs a passkey ceremony (enrollment link,
 * backchannel approval): nothing is cached (the secret is in the path), every page carries a
 * CSRF token, and every POST has a bounded body, spends the ceremony rate budget, then passes
 * the CSRF check.
 */
export function guardCeremonyPages(router: Router, deps: { body: Middleware; limits: RateLimits; csrf: { issue: Middleware; verify: Middleware } }): void {
  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });
  router.use(deps.csrf.issue);
  router.use(async (ctx, next) => {
    if (ctx.method !== 'POST') return next();
    await deps.body(ctx, async () => {
      await deps.limits.consume(ctx.path.endsWith('/verify') ? 'ceremonyVerify' : 'ceremonyOptions', ctx.ip);
      await deps.csrf.verify(ctx, next);
    });
  });
}
