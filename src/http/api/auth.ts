import type { Context, Middleware, Next } from 'koa';
import type Provider from 'oidc-provider';
import type { ApiScope } from '../../config/api.ts';
import { DomainError } from '../../domain/errors.ts';

/** The caller of an API request, from its access token. */
export interface ApiCaller {
  readonly clientId: string;
  readonly scopes: ReadonlySet<string>;
}

export function callerOf(ctx: Context): ApiCaller {
  const caller = ctx.state.apiCaller as ApiCaller | undefined;
  if (!caller) throw new Error('API route without the token middleware');
  return caller;
}

/**
 * Admits requests that carry a client-credentials access token Latchkey issued for the
 * management API (audience `resource`) to a client that still exists. Anything else is
 * `invalid_token` with an RFC 6750 challenge.
 */
export function requireApiToken(provider: Provider, resource: string): Middleware {
  return async (ctx, next) => {
    const match = /^Bearer ([A-Za-z0-9\-._~+/]{16,512}=*)$/.exec(ctx.get('authorization'));
    if (!match) throw challenge(ctx, 'An access token is required (Authorization: Bearer …).');
    const token = await provider.ClientCredentials.find(match[1]!);
    // Expired, revoked, for another audience, or sender-constrained (DPoP/mTLS, which this API
    // does not check): none of them may act as a bearer token here.
    if (!token || token.isExpired || token.aud !== resource || token.isSenderConstrained()) {
      throw challenge(ctx, 'The access token is not valid for this API.');
    }
    // A removed client's tokens stop working with it.
    if (!(await provider.Client.find(token.clientId!))) throw challenge(ctx, 'The access token is not valid for this API.');
    ctx.state.apiCaller = { clientId: token.clientId!, scopes: new Set((token.scope ?? '').split(' ').filter(Boolean)) } satisfies ApiCaller;
    await next();
  };
}

/** Refuses the request (403 insufficient_scope) unless the token carries `scope`. */
export function requireScope(scope: ApiScope): Middleware {
  return async (ctx: Context, next: Next) => {
    if (!callerOf(ctx).scopes.has(scope)) {
      ctx.set('WWW-Authenticate', `Bearer error="insufficient_scope", scope="${scope}"`);
      throw new DomainError('insufficient_scope', `This request needs the ${scope} scope.`);
    }
    await next();
  };
}

function challenge(ctx: Context, message: string): DomainError {
  ctx.set('WWW-Authenticate', 'Bearer error="invalid_token"');
  return new DomainError('invalid_token', message);
}
