import { readFileSync } from 'node:fs';
import type { ClientMetadata } from 'oidc-provider';
import { isLogoDataUri, LOGO_DATA_URI_MAX } from './client-logo.ts';
import { ConfigError } from './env.ts';

/**
 * Reads statically configured clients: a JSON array of OIDC client metadata
 * (client_id, client_secret, redirect_uris, …, plus Latchkey's `first_party`).
 * Secrets may be given as `"client_secret_env": "VAR"` to keep them out of the file.
 */
export function readClientsFile(path: string, env: Readonly<Record<string, string | undefined>>): ClientMetadata[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError('LATCHKEY_CLIENTS_FILE', `cannot read ${path} as JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw new ConfigError('LATCHKEY_CLIENTS_FILE', `${path} must hold a JSON array of client metadata objects`);
  return parsed.map((entry: unknown, index) => {
    if (!entry || typeof entry !== 'object' || typeof (entry as ClientMetadata).client_id !== 'string') {
      throw new ConfigError('LATCHKEY_CLIENTS_FILE', `entry ${index} in ${path} needs a string client_id`);
    }
    const { client_secret_env: secretVar, ...metadata } = entry as ClientMetadata & { client_secret_env?: string };
    // An inlined logo (data: URI) is Latchkey's logo_data_uri: oidc-provider takes only web URLs as logo_uri.
    if (typeof metadata.logo_uri === 'string' && metadata.logo_uri.startsWith('data:')) {
      if (!isLogoDataUri(metadata.logo_uri)) {
        throw new ConfigError('LATCHKEY_CLIENTS_FILE', `client ${metadata.client_id} in ${path}: a data: logo_uri must be a base64 PNG, JPEG, GIF, WebP or SVG image of at most ${LOGO_DATA_URI_MAX / 1024} KB`);
      }
      metadata.logo_data_uri = metadata.logo_uri;
      delete metadata.logo_uri;
    }
    for (const uri of ['logo_uri', 'policy_uri', 'tos_uri'] as const) {
      if (metadata[uri] !== undefined && URL.parse(String(metadata[uri]))?.protocol !== 'https:') {
        throw new ConfigError('LATCHKEY_CLIENTS_FILE', `client ${metadata.client_id} in ${path}: ${uri} must be an https URL`);
      }
    }
    if (secretVar !== undefined) {
      const secret = env[secretVar];
      if (!secret) throw new ConfigError(secretVar, `is empty, but client ${metadata.client_id} in ${path} takes its secret from it`);
      metadata.client_secret = secret;
    }
    return metadata;
  });
}
