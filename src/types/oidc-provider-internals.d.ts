// oidc-provider 9 offers no public way to change its keys after construction. These two
// internal modules are what its constructor uses; src/config/provider-keys.ts wraps them, and
// test/integration/key-rotation.test.ts fails loudly if an upgrade changes them.
declare module 'oidc-provider/lib/helpers/weak_cache.js' {
  /** The provider's private state (`#int`): configuration, keystore, published JWKS, … */
  export default function instance(provider: object):
    | {
        keystore: InternalKeyStore;
        jwks: { keys: object[] };
        /** The token endpoint's grant handlers by grant_type (src/http/backchannel/polling.ts wraps CIBA's). */
        grantTypeHandlers: Map<string, (ctx: import('oidc-provider').KoaContextWithOIDC) => Promise<void>>;
      }
    | undefined;
}

declare module 'oidc-provider/lib/helpers/initialize_keystore.js' {
  /** Validates a JWKS and installs it as the provider's keystore and published JWKS. */
  export default function initializeKeystore(this: object, jwks: { keys: object[] }): void;
}

interface InternalKeyStore extends Iterable<object> {
  clear(): void;
  add(key: object): void;
}
