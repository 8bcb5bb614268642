/**
 * The management API as an OAuth resource server of Latchkey's own: its resource indicator,
 * and the scopes a client-credentials token for it can carry.
 */
export const API_SCOPES = ['users:read', 'users:write', 'enrollments:write', 'events:read', 'webhooks:write'] as const;

export type ApiScope = (typeof API_SCOPES)[number];

/** The management API's resource indicator (RFC 8707) and token audience. */
export function apiResource(issuer: string): string {
  return `${issuer}/api`;
}

/** The API scopes a client may be granted: those in its `scope` metadata. */
export function grantableApiScopes(clientScope: string | undefined): ApiScope[] {
  const allowed = new Set((clientScope ?? '').split(' '));
  return API_SCOPES.filter((s) => allowed.has(s));
}
