import type { Db } from './db.ts';

const EXPIRING_TABLES = ['webauthn_challenges', 'email_codes', 'oidc_payloads', 'session_passkeys'] as const;

/**
 * Deletes every expired challenge, email code, oidc-provider row and rate-limit counter. Plain idempotent deletes,
 * so every node may run it at once. Returns the rows removed per table.
 */
export async function purgeExpired(db: Db, now: number): Promise<Record<string, number>> {
  const removed: Record<string, number> = {};
  for (const table of EXPIRING_TABLES) {
    removed[table] = await db(table).where('expires_at', '<=', now).delete();
  }
  // rate-limiter-flexible's layout: `expire` in epoch milliseconds.
  removed.rate_limits = await db('rate_limits').where('expire', '<=', now).delete();
  return removed;
}

/** Runs the purge every `intervalMs` until stopped; failures are reported, never fatal. */
export function schedulePurge(db: Db, intervalMs: number, onResult: (removed: Record<string, number> | Error) => void): () => void {
  const timer = setInterval(() => {
    purgeExpired(db, Date.now()).then(onResult, (error: Error) => onResult(error));
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
