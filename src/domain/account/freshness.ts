import type { AcrNames } from '../../config/env.ts';

/**
 * True when the session's last ceremony was a passkey (phr or phrh, never the email-code
 * level) no more than `maxAgeSeconds` ago: what adding or removing a passkey requires, like an
 * `add:authenticators` scope would. Every value comes from the server-side session.
 */
export function hasFreshPasskeyCeremony(
  session: { readonly acr?: unknown; readonly authTime?: number },
  nowSeconds: number,
  names: AcrNames,
  maxAgeSeconds: number,
): boolean {
  if (session.acr !== names.phr && session.acr !== names.phrh) return false;
  if (typeof session.authTime !== 'number') return false;
  return nowSeconds - session.authTime <= maxAgeSeconds;
}
