import { API_SCOPES } from '../../config/api.ts';

type Json = Record<string, unknown>;

const problem = { $ref: '#/components/responses/Problem' };

/** The standard error answers of an operation that needs `scope`. */
function guarded(scope: string, ok: Json, extra: Record<string, string> = {}): Json {
  return {
    security: [{ clientCredentials: [scope] }],
    responses: {
      ...ok,
      ...Object.fromEntries(Object.entries(extra).map(([status, description]) => [status, { ...problem, description }])),
      '401': { ...problem, description: 'Missing, expired or foreign access token (`invalid_token`).' },
      '403': { ...problem, description: `The token lacks the \`${scope}\` scope (\`insufficient_scope\`).` },
    },
  };
}

const json = (schema: Json, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const page = (item: string) => ({
  type: 'object',
  required: ['data', 'next_cursor'],
  properties: { data: { type: 'array', items: ref(item) }, next_cursor: { type: ['string', 'null'], description: 'Pass as `cursor` for the next page; null on the last page.' } },
});
const idParam = (name: string, description: string) => ({ name, in: 'path', required: true, schema: { type: 'string' }, description });
const pageParams = [
  { name: 'cursor', in: 'query', schema: { type: 'string' }, description: 'The `next_cursor` of the previous page.' },
  { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
];
const date = { type: 'string', format: 'date-time' };

/** Paths and schemas other parts of the API add (events, webhooks, enrollment links). */
export interface OpenApiPart {
  readonly paths: Json;
  readonly schemas: Json;
}

/** The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json. */
export function openApiDocument(issuer: string, resource: string, parts: readonly OpenApiPart[] = []): Json {
  const user = ['user', idParam('id', 'The user’s id (the `sub` of their tokens).')];
  return {
    openapi: '3.1.0',
    info: {
      title: 'Latchkey management API',
      version: '1.0.0',
      description:
        'Manage users and their passkeys from your backend. Authenticate with an access token from the ' +
        `client credentials grant at ${issuer}/token (resource \`${resource}\`, or none: it is the default). ` +
        'Errors are RFC 9457 problem details with a stable `code`.',
    },
    servers: [{ url: `${issuer}/api/v1` }],
    components: {
      securitySchemes: {
        clientCredentials: {
          type: 'oauth2',
          flows: { clientCredentials: { tokenUrl: `${issuer}/token`, scopes: Object.fromEntries(API_SCOPES.map((s) => [s, s])) } },
        },
      },
      responses: {
        Problem: { description: 'An error', content: { 'application/problem+json': { schema: ref('Problem') } } },
      },
      schemas: {
        Problem: {
          type: 'object',
          required: ['type', 'title', 'status', 'code'],
          properties: { type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, code: { type: 'string', description: 'Stable error code.' }, detail: { type: 'string' } },
        },
        User: {
          type: 'object',
          required: ['id', 'email', 'email_verified', 'name', 'external_id', 'status', 'created_at', 'updated_at'],
          properties: {
            id: { type: 'string' },
            email: { type: 'string', format: 'email' },
            email_verified: { type: 'boolean' },
            name: { type: ['string', 'null'] },
            external_id: { type: ['string', 'null'], description: 'Your identifier for the person, or a hash of it.' },
            status: { enum: ['active', 'disabled'] },
            created_at: date,
            updated_at: date,
          },
        },
        NewUser: {
          type: 'object',
          required: ['email'],
          additionalProperties: false,
          properties: {
            email: { type: 'string', format: 'email' },
            email_verified: { type: 'boolean', default: false, description: 'Whether your application verified the address (recovery mails only verified addresses).' },
            name: { type: 'string', minLength: 1, maxLength: 200 },
            external_id: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$', description: 'Unique. May be a hash you computed, so Latchkey never sees the raw identifier.' },
          },
        },
        Passkey: {
          type: 'object',
          properties: {
            id: { type: 'string', description: 'Credential id (base64url).' },
            name: { type: ['string', 'null'] },
            aaguid: { type: 'string' },
            device_type: { enum: ['single_device', 'multi_device'] },
            backed_up: { type: 'boolean' },
            transports: { type: 'array', items: { type: 'string' } },
            created_at: date,
            last_used_at: { type: ['string', 'null'], format: 'date-time' },
          },
        },
        ...Object.assign({}, ...parts.map((p) => p.schemas)),
      },
    },
    paths: {
      '/users': {
        post: {
          tags: ['users'],
          summary: 'Create a user',
          requestBody: { required: true, content: { 'application/json': { schema: ref('NewUser') } } },
          ...guarded('users:write', { '201': json(ref('User'), 'Created') }, { '400': 'Invalid input (`invalid_request`, `invalid_email`).', '409': 'Email (`user_exists`) or external id (`external_id_taken`) already used.' }),
        },
        get: {
          tags: ['users'],
          summary: 'List users (oldest first), or find them by email or external id',
          parameters: [...pageParams, { name: 'email', in: 'query', schema: { type: 'string' } }, { name: 'external_id', in: 'query', schema: { type: 'string' } }],
          ...guarded('users:read', { '200': json(page('User')) }, { '400': 'Bad cursor (`invalid_cursor`) or limit.' }),
        },
      },
      '/users/{id}': {
        parameters: [user[1]],
        get: { tags: ['users'], summary: 'Read a user', ...guarded('users:read', { '200': json(ref('User')) }, { '404': 'No such user (`user_not_found`).' }) },
        delete: {
          tags: ['users'],
          summary: 'Delete a user with their passkeys, sessions, grants and tokens',
          ...guarded('users:write', { '204': { description: 'Deleted' } }, { '404': 'No such user (`user_not_found`).' }),
        },
      },
      '/users/{id}/disable': {
        parameters: [user[1]],
        post: {
          tags: ['users'],
          summary: 'Disable a user: sign-in, refresh and recovery are refused, sessions and tokens end',
          ...guarded('users:write', { '200': json(ref('User')) }, { '404': 'No such user (`user_not_found`).' }),
        },
      },
      '/users/{id}/enable': {
        parameters: [user[1]],
        post: { tags: ['users'], summary: 'Enable a disabled user', ...guarded('users:write', { '200': json(ref('User')) }, { '404': 'No such user (`user_not_found`).' }) },
      },
      '/users/{id}/passkeys': {
        parameters: [user[1]],
        get: { tags: ['passkeys'], summary: 'List a user’s passkeys', ...guarded('users:read', { '200': json({ type: 'object', properties: { data: { type: 'array', items: ref('Passkey') } } }) }, { '404': 'No such user (`user_not_found`).' }) },
      },
      '/users/{id}/passkeys/{passkeyId}': {
        parameters: [user[1], idParam('passkeyId', 'The credential id (base64url).')],
        delete: {
          tags: ['passkeys'],
          summary: 'Remove a passkey',
          ...guarded('users:write', { '204': { description: 'Removed' } }, { '404': 'No such user (`user_not_found`) or passkey (`passkey_not_found`).' }),
        },
      },
      ...Object.assign({}, ...parts.map((p) => p.paths)),
    },
  };
}
