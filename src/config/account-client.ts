import type { ClientMetadata } from 'oidc-provider';

/** The client_id of Latchkey's own account page; reserved, so no configured client may use it. */
export const ACCOUNT_CLIENT_ID = 'latchkey-account';

/** Where the account page's sign-in comes back to. */
export const ACCOUNT_CALLBACK_PATH = '/account/callback';

/**
 * The account page signs people in to Latchkey itself through Latchkey's own authorization
 * endpoint, like any application, so sign-in, sign-up, step-up and recovery all work there
 * unchanged. It is a public client (no secret to keep) that skips consent.
 */
export function accountClient(issuer: string, productName: string): ClientMetadata {
  return {
    client_id: ACCOUNT_CLIENT_ID,
    client_name: `${productName} account`,
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [`${issuer}${ACCOUNT_CALLBACK_PATH}`],
    first_party: true,
  };
}
