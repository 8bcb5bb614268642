/** Who Latchkey is to authenticators: from configuration, never from request headers. */
export interface RelyingParty {
  readonly id: string;
  readonly name: string;
  /** Accepted origins: web origins and android:apk-key-hash:… of native apps. */
  readonly origins: readonly string[];
  /** Seconds a ceremony's challenge stays valid. */
  readonly challengeTtl: number;
}

/** COSE algorithms Latchkey accepts: ES256, EdDSA, RS256 (in order of preference). */
export const SUPPORTED_ALGORITHMS = [-7, -8, -257];
