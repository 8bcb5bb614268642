import assert from 'node:assert/strict';
import type { ClientMetadata } from 'oidc-provider';
import type { TestServer } from './app.ts';

/** A backend client of the management API, configured by the operator (clients file). */
export function apiClient(clientId: string, scope: string): ClientMetadata {
  return {
    client_id: clientId,
    client_secret: `${clientId}-secret-0123456789abcdefghijklmnop`,
    client_name: `Backend ${clientId}`,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    scope,
  };
}

/**
 * A backend that asks people for backchannel approvals (CIBA, poll mode, client_secret_basic),
 * allowed to send `transfer` authorization details.
 */
export function cibaClient(clientId: string, overrides: Partial<ClientMetadata> = {}): ClientMetadata {
  return {
    client_id: clientId,
    client_secret: `${clientId}-secret-0123456789abcdefghijklmnop`,
    client_name: 'Example Bank',
    grant_types: ['urn:openid:params:grant-type:ciba'],
    response_types: [],
    redirect_uris: [],
    backchannel_token_delivery_mode: 'poll',
    authorization_details_types: ['transfer'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...overrides,
  };
}

/** Raw client-credentials token request, as a backend would make it with curl. */
export async function requestToken(server: TestServer, client: ClientMetadata, params: Record<string, string>): Promise<Response> {
  return fetch(server.url('/token'), {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...params }),
  });
}

/** An API access token carrying `scope`. */
export async function apiToken(server: TestServer, client: ClientMetadata, scope: string): Promise<string> {
  const response = await requestToken(server, client, { scope });
  const body = (await response.json()) as { access_token?: string; scope?: string; error?: string };
  assert.equal(response.status, 200, `token request answered ${response.status} ${body.error}`);
  return body.access_token!;
}

/** Calls the management API with a token; JSON in, Response out. */
export async function api(server: TestServer, token: string | undefined, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(server.url(`/api/v1${path}`), {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Asserts an RFC 9457 problem document with this status and code. */
export async function assertProblem(response: Response, status: number, code: string): Promise<Record<string, unknown>> {
  const text = await response.text();
  assert.equal(response.status, status, `expected ${status} ${code}, got ${response.status} ${text}`);
  assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
  const body = JSON.parse(text) as Record<string, unknown>;
  assert.equal(body.code, code);
  assert.equal(body.status, status);
  return body;
}
