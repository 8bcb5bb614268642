import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import { DomainError } from '../../domain/errors.ts';

const COOKIE = 'latchkey.csrf';
const HEADER = 'x-csrf-token';
const FIELD = 'csrf';

/**
 * CSRF protection for Latchkey's own forms and JSON endpoints: a signed double-submit token
 * (HMAC of a random per-browser secret kept in a SameSite=Strict cookie), plus a check that the
 * request's Origin, when the browser sends one, is Latchkey's own.
 */
export function csrfProtection(options: { secret: string; origin: string; secure: boolean }): { issue: Middleware; verify: Middleware } {
  const tokenFor = (browserSecret: string) => createHmac('sha256', options.secret).update(browserSecret).digest('base64url');

  const browserSecret = (ctx: Context, create: boolean): string | undefined => {
    const existing = ctx.cookies.get(COOKIE);
    if (existing && /^[A-Za-z0-9_-]{43}$/.test(existing)) return existing;
    if (!create) return undefined;
    const fresh = randomBytes(32).toString('base64url');
    ctx.cookies.set(COOKIE, fresh, { httpOnly: true, sameSite: 'strict', secure: options.secure, path: '/', overwrite: true });
    return fresh;
  };

  const issue: Middleware = async (ctx, next) => {
    ctx.state.csrfToken = tokenFor(browserSecret(ctx, true)!);
    await next();
  };

  const verify: Middleware = async (ctx, next) => {
    if (ctx.method === 'GET' || ctx.method === 'HEAD' || ctx.method === 'OPTIONS') return next();
    const origin = ctx.get('origin');
    const site = ctx.get('sec-fetch-site');
    // Browsers send Origin on cross-site POSTs; anything but our own origin is refused. A browser
    // that withholds the origin sends "null": accepted only when it also says the request is
    // same-origin (Sec-Fetch-Site, which no page can set). Sibling subdomains are other sites here.
    const foreign = origin === 'null' ? site !== 'same-origin' : origin !== '' && origin !== options.origin;
    if (foreign || site === 'cross-site' || site === 'same-site') throw new DomainError('csrf_failed', 'This request came from another site.');
    const secret = browserSecret(ctx, false);
    const body = ctx.request.body as Record<string, unknown> | undefined;
    const submitted = ctx.get(HEADER) || (typeof body?.[FIELD] === 'string' ? (body[FIELD] as string) : '');
    if (!secret || !submitted) throw new DomainError('csrf_failed', 'Your session has expired. Reload the page and try again.');
    const expected = Buffer.from(tokenFor(secret));
    const actual = Buffer.from(submitted);
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
      throw new DomainError('csrf_failed', 'Your session has expired. Reload the page and try again.');
    }
    await next();
  };

  return { issue, verify };
}
