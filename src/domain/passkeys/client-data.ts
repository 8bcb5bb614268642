import { DomainError } from '../errors.ts';

export interface ClientData {
  readonly type: string;
  readonly challenge: string;
  readonly origin: string;
  readonly crossOrigin?: boolean;
  readonly topOrigin?: string;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Reads the fields Latchkey needs from a response's clientDataJSON before any verification,
 * to find the server-side challenge it answers. Anything malformed is a clear 400.
 */
export function readClientData(response: unknown): ClientData {
  const encoded = (response as { response?: { clientDataJSON?: unknown } } | null)?.response?.clientDataJSON;
  if (typeof encoded !== 'string' || encoded.length > 4096 || !BASE64URL.test(encoded)) {
    throw new DomainError('passkey_verification_failed', 'The passkey response is malformed.');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'));
  } catch {
    throw new DomainError('passkey_verification_failed', 'The passkey response is malformed.');
  }
  const data = parsed as Partial<ClientData> | null;
  if (!data || typeof data.challenge !== 'string' || !BASE64URL.test(data.challenge) || typeof data.type !== 'string' || typeof data.origin !== 'string') {
    throw new DomainError('passkey_verification_failed', 'The passkey response is malformed.');
  }
  return data as ClientData;
}

/**
 * Latchkey's pages are never framed, so a ceremony from inside another site's frame is refused.
 * Checked after the challenge is consumed, so such a response burns its challenge too.
 */
export function assertNotEmbedded(data: ClientData): void {
  if (data.crossOrigin === true || data.topOrigin !== undefined) {
    throw new DomainError('passkey_verification_failed', 'Passkey ceremonies from embedded pages are not accepted.');
  }
}

/** Credential ids are base64url of at most 1023 bytes (WebAuthn L3). */
export function isCredentialId(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && id.length <= 1364 && BASE64URL.test(id);
}
