import helmet from 'koa-helmet';
import type { Middleware } from 'koa';

/**
 * Security headers on every response: a strict CSP (no inline script, no framing, images only
 * from here, data: and the configured origins), nosniff,
 * no referrer leaks, and HSTS when the issuer is https.
 */
export function securityHeaders(options: { https: boolean; imgSources?: readonly string[] }): Middleware {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': ["'self'"],
        'script-src': ["'self'"],
        'style-src': ["'self'"],
        // Exactly the image origins the operator configured (brand logo, allowed client logo hosts).
        'img-src': ["'self'", 'data:', ...(options.imgSources ?? [])],
        'connect-src': ["'self'"],
        'font-src': ["'self'"],
        'object-src': ["'none'"],
        'base-uri': ["'none'"],
        'frame-ancestors': ["'none'"],
        // No form-action: browsers apply it to the redirect back to the application after a
        // form post, which would block every sign-in. Forms here only post to Latchkey itself.
        ...(options.https ? { 'upgrade-insecure-requests': [] } : {}),
      },
    },
    crossOriginEmbedderPolicy: false,
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    // No referrer to other sites (the interaction URL never reaches the application), while
    // our own POSTs keep a real Origin header for the CSRF check (no-referrer makes it "null").
    referrerPolicy: { policy: 'same-origin' },
    strictTransportSecurity: options.https ? { maxAge: 31536000, includeSubDomains: true } : false,
    xFrameOptions: { action: 'deny' },
  }) as unknown as Middleware;
}
