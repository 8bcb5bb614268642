import type { Middleware } from 'koa';
import { RateLimited, type RateLimits } from './rate-limit.ts';

/** The client id of HTTP Basic client authentication, without reading the body (oidc-provider parses it). */
function basicClientId(authorization: string): string | undefined {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(authorization);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon > 0 ? decodeURIComponent(decoded.slice(0, colon)).slice(0, 200) : undefined;
}

/**
 * Budgets for the token endpoint, per IP and per client, answered in OAuth's JSON shape so
 * client libraries can read it; Retry-After says when to try again.
 */
export function tokenRateLimit(limits: RateLimits, tokenPath: string): Middleware {
  return async (ctx, next) => {
    if (ctx.method !== 'POST' || ctx.path !== tokenPath) return next();
    try {
      await limits.consume('token', ctx.ip, basicClientId(ctx.get('authorization')));
    } catch (error) {
      if (!(error instanceof RateLimited)) throw error;
      ctx.status = 429;
      ctx.set('Retry-After', String(error.retryAfterSeconds));
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error: 'rate_limited', error_description: error.message };
      return;
    }
    await next();
  };
}
