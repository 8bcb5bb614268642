import { readFileSync } from 'node:fs';
import { AuthenticatorCatalog } from '../domain/account/authenticators.ts';
import { ConfigError } from './env.ts';

/**
 * Reads the AAGUID metadata file named by LATCHKEY_AUTHENTICATOR_METADATA (the community
 * passkey-authenticator-aaguids format). Without one, passkeys get generic names.
 */
export function readAuthenticatorMetadata(path: string | undefined): AuthenticatorCatalog {
  if (path === undefined) return AuthenticatorCatalog.empty;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError('LATCHKEY_AUTHENTICATOR_METADATA', `cannot read ${path} as JSON: ${(error as Error).message}`);
  }
  try {
    return AuthenticatorCatalog.parse(json);
  } catch (error) {
    throw new ConfigError('LATCHKEY_AUTHENTICATOR_METADATA', `${path}: ${(error as Error).message}`);
  }
}
