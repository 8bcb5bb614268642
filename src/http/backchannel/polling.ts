import type { Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';
import instance from 'oidc-provider/lib/helpers/weak_cache.js';
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

export const CIBA_GRANT = 'urn:openid:params:grant-type:ciba';

/**
 * The CIBA polling interval (CIBA Core §7.3, §11): the backchannel authentication response
 * carries `interval`, and a client that polls one pending request again sooner gets
 * `slow_down`. oidc-provider does neither, so its CIBA grant handler is wrapped here. The
 * last poll is remembered in `limiter` (one point per `interval` seconds per auth_req_id),
 * which lives in the shared rate-limit store so every node sees it.
 *
 * Only polls that would answer `authorization_pending` are limited: once the person decided,
 * the next poll gets the answer at once.
 */
export function enforcePollingInterval(provider: Provider, limiter: RateLimiterAbstract, intervalSeconds: number): Middleware {
  const handlers = instance(provider)!.grantTypeHandlers;
  const original = handlers.get(CIBA_GRANT);
  if (!original) throw new Error('oidc-provider has no CIBA grant handler to wrap');
  handlers.set(CIBA_GRANT, async (ctx) => {
    const id = ctx.oidc.params?.auth_req_id;
    if (typeof id === 'string' && id.length > 0 && id.length < 200) {
      const request = await provider.BackchannelAuthenticationRequest.find(id, { ignoreExpiration: true });
      const pending = request && request.clientId === ctx.oidc.client?.clientId && !request.isExpired && !request.grantId && !request.error;
      if (pending) {
        try {
          await limiter.consume(id);
        } catch (error) {
          if (error instanceof RateLimiterRes) throw new errors.SlowDown();
          throw error;
        }
      }
    }
    await original(ctx);
  });
  // Mounted with provider.use: adds `interval` to a successful backchannel authentication response.
  return async (ctx, next) => {
    await next();
    const oidc = (ctx as unknown as KoaContextWithOIDC).oidc as KoaContextWithOIDC['oidc'] | undefined;
    if (oidc?.route === 'backchannel_authentication' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object' && 'auth_req_id' in ctx.body) {
      (ctx.body as Record<string, unknown>).interval = intervalSeconds;
    }
  };
}
