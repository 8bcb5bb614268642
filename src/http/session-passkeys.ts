import type { Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';

/** The key of an interaction result that names the passkey the login used. */
export const SESSION_PASSKEY = 'latchkey_passkey';

/** Where the link between a session and its passkey is kept (KnexSessionPasskeys). */
export interface SessionPasskeyRecorder {
  record(sessionUid: string, accountId: string, passkeyId: string, expiresAt: number): Promise<void>;
}

/**
 * Mounted on oidc-provider (provider.use): when an authorization resumes with a passkey login,
 * remembers which passkey the browser session now stands on, so that removing that passkey
 * (lost or stolen device) signs this browser out. oidc-provider's Session keeps no such field,
 * and its uid is only final here, once the login is applied.
 */
export function rememberSessionPasskey(recorder: SessionPasskeyRecorder, sessionTtlSeconds: number, clock: () => number): Middleware {
  return async (ctx, next) => {
    await next();
    const oidc = (ctx as unknown as KoaContextWithOIDC).oidc as KoaContextWithOIDC['oidc'] | undefined;
    if (oidc?.route !== 'resume' && oidc?.route !== 'device_resume') return;
    const result = oidc.result as { login?: { accountId?: unknown }; consent?: unknown; [SESSION_PASSKEY]?: unknown } | undefined;
    // A consent step carries the login it follows over (merged): that login is recorded already.
    if (result?.consent !== undefined) return;
    const passkeyId = result?.[SESSION_PASSKEY];
    const session = oidc.session;
    if (typeof passkeyId !== 'string' || !session?.uid || !session.accountId || result?.login?.accountId !== session.accountId) return;
    await recorder.record(session.uid, session.accountId, passkeyId, clock() + sessionTtlSeconds * 1000);
  };
}
