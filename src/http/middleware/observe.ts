import { randomUUID } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { withRequestContext, type Logger } from '../../logging.ts';
import type { Ceremony, Metrics } from '../../metrics.ts';
import type { Interaction } from '../interactions/context.ts';
import { toPublicError } from './errors.ts';

/** An incoming X-Request-Id is kept only when it is a short token that cannot forge log lines. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** Probes are polled every few seconds: logged at debug so they do not drown the requests. */
const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

type RoutedContext = Context & { _matchedRoute?: unknown; _matchedRouteName?: unknown };

/**
 * The route template that served a request, never its path: `/interaction/:uid/passkey/verify`
 * for Latchkey's routes, `oidc:<name>` (`oidc:token`, `oidc:authorization`, …) for
 * oidc-provider's, `unmatched` for anything else, so labels and logs carry no ids or codes.
 */
export function routeOf(ctx: Context): string {
  const routed = ctx as RoutedContext;
  // koa-router only names named routes (Latchkey names none); oidc-provider names all of its own.
  if (typeof routed._matchedRouteName === 'string') return `oidc:${routed._matchedRouteName}`;
  if (typeof routed._matchedRoute === 'string') return routed._matchedRoute;
  return 'unmatched';
}

function statusOf(ctx: Context): number {
  // oidc-provider's interactionFinished writes the response itself (ctx.respond = false).
  return ctx.respond === false ? ctx.res.statusCode : ctx.status;
}

/**
 * Outermost request middleware: a request id (echoed in X-Request-Id and on every log line of
 * the request), one access-log line (method, route template, status, duration; never the URL,
 * cookies, tokens, codes or bodies), and the request-rate and latency metrics.
 */
export function observeRequests(logger: Logger, metrics: Metrics): Middleware {
  return async (ctx, next) => {
    const incoming = ctx.get('x-request-id');
    const requestId = SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    await withRequestContext({ requestId }, async () => {
      let status = 500;
      try {
        await next();
        status = statusOf(ctx);
      } finally {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const route = routeOf(ctx);
        metrics.httpRequests.inc({ method: ctx.method, route, status: String(status) });
        metrics.httpDuration.observe({ method: ctx.method, route }, seconds);
        const line = { method: ctx.method, route, status, durationMs: Math.round(seconds * 1e4) / 10 };
        if (QUIET_ROUTES.has(route)) logger.debug(line, 'request');
        else logger.info(line, 'request');
      }
    });
  };
}

interface CeremonyStep {
  readonly ceremony: Ceremony;
  /** This step ends the ceremony: a 200 means it succeeded. */
  readonly completes: boolean;
}

function ceremonySteps(): Map<string, CeremonyStep> {
  const steps = new Map<string, CeremonyStep>([
    ['/interaction/:uid/passkey/options', { ceremony: 'signin', completes: false }],
    ['/interaction/:uid/passkey/verify', { ceremony: 'signin', completes: true }],
  ]);
  for (const ceremony of ['signup', 'recovery'] as const) {
    for (const step of ['', '/code', '/passkey/options']) steps.set(`/interaction/:uid/${ceremony}${step}`, { ceremony, completes: false });
    steps.set(`/interaction/:uid/${ceremony}/passkey/verify`, { ceremony, completes: true });
  }
  return steps;
}

/**
 * Counts ceremony outcomes from the outside of the interaction routes: completed sign-ins,
 * step-ups, sign-ups and recoveries, and refused steps by their stable error code. Sits inside
 * the error handler, so it sees the domain error before it becomes a page.
 */
export function countCeremonies(provider: Provider, metrics: Metrics): Middleware {
  const steps = ceremonySteps();
  return async (ctx, next) => {
    if (ctx.method !== 'POST' || !ctx.path.startsWith('/interaction/')) return next();
    let failed: unknown;
    try {
      await next();
    } catch (error) {
      failed = error;
      throw error;
    } finally {
      const step = steps.get(routeOf(ctx));
      if (step) await record(ctx, step, failed);
    }
  };

  async function record(ctx: Context, step: CeremonyStep, failed: unknown): Promise<void> {
    let ceremony = step.ceremony;
    let unmet = false;
    if (ceremony === 'signin' && step.completes) {
      // A passkey ceremony by someone already signed in is a step-up; the interaction says so.
      // The route keeps the interaction it loaded and the result it gave; a request refused
      // before the route loaded it (rate limit, CSRF) loads it here.
      try {
        const details: Interaction = ctx.state.interaction ?? (await provider.interactionDetails(ctx.req, ctx.res));
        if (details.session?.accountId) ceremony = 'stepup';
        const result: unknown = ctx.state.interactionResult ?? details.result;
        unmet = Boolean((result as { error?: unknown } | undefined)?.error);
      } catch {
        // The interaction is gone (expired, bad cookie): the failure is already counted below.
      }
    }
    if (failed !== undefined) {
      metrics.ceremonyFailures.inc({ ceremony, code: toPublicError(failed).code });
      return;
    }
    if (!step.completes || statusOf(ctx) !== 200) return;
    if (ceremony === 'stepup') metrics.stepUps.inc({ outcome: unmet ? 'unmet' : 'met' });
    else if (ceremony === 'signin' && unmet) metrics.ceremonyFailures.inc({ ceremony, code: 'unmet_authentication_requirements' });
    else if (ceremony === 'signin') metrics.signIns.inc();
    else if (ceremony === 'signup') metrics.signUps.inc();
    else metrics.recoveries.inc();
  }
}
