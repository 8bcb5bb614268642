import type { JsonWebKey } from 'node:crypto';
import type Provider from 'oidc-provider';
import instance from 'oidc-provider/lib/helpers/weak_cache.js';
import initializeKeystore from 'oidc-provider/lib/helpers/initialize_keystore.js';

/**
 * Replaces a running provider's signing keys and published JWKS, so a node picks up a key
 * rotation without a restart.
 *
 * oidc-provider 9 reads its keys once, in its constructor, and has no public API to change
 * them. This runs the same internal step the constructor runs (validation included, so a bad
 * key throws and the old keys stay), then copies the result into the keystore object the
 * provider already holds, because parts of it keep a reference to that object.
 */
export function replaceProviderKeys(provider: Provider, jwks: { keys: JsonWebKey[] }): void {
  const state = instance(provider);
  if (!state?.keystore || typeof state.keystore.clear !== 'function') {
    throw new Error('oidc-provider internals changed: cannot replace its keys live (restart nodes after a key rotation instead)');
  }
  const current = state.keystore;
  initializeKeystore.call(provider, structuredClone(jwks) as { keys: object[] });
  const fresh = [...state.keystore];
  // Synchronous from here on: no request sees a half-filled keystore.
  current.clear();
  for (const key of fresh) current.add(key);
  state.keystore = current;
}
