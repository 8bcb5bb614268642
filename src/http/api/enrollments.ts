import type Router from '@koa/router';
import type Provider from 'oidc-provider';
import QRCode from 'qrcode';
import { statusOf, type EnrollmentLink, type Enrollments } from '../../domain/enrollment.ts';
import { callerOf, requireScope } from './auth.ts';
import type { OpenApiPart } from './openapi.ts';

function enrollmentJson(link: EnrollmentLink, now: number): Record<string, unknown> {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: link.id,
    user_id: link.accountId,
    status: statusOf(link, now),
    invited_by: link.invitedBy,
    authenticator_attachment: link.policy.authenticatorAttachment,
    resident_key: link.policy.residentKey,
    passkey_policy: link.policy.passkey,
    expires_at: iso(link.expiresAt),
    created_at: iso(link.createdAt),
    opened_at: iso(link.openedAt),
    completed_at: iso(link.completedAt),
    revoked_at: iso(link.revokedAt),
    passkey_id: link.passkeyId,
  };
}

/** /users/{id}/enrollment-links (create: URL and QR code, shown once) and /enrollment-links/{id} (status, revoke). */
export function enrollmentRoutes(enrollments: Enrollments, provider: Provider, clock: () => number): (router: Router) => void {
  return (router) => {
    router.post('/users/:id/enrollment-links', requireScope('enrollments:write'), async (ctx) => {
      const { clientId } = callerOf(ctx);
      const clientName = (await provider.Client.find(clientId))?.clientName ?? clientId;
      const { link, url } = await enrollments.create({ clientId, clientName }, ctx.params.id!, ctx.request.body);
      const qr = await QRCode.toString(url, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
      ctx.status = 201;
      ctx.set('Location', `/enrollment-links/${link.id}`);
      ctx.body = { ...enrollmentJson(link, clock()), url, qr_svg: qr };
    });
    router.get('/enrollment-links/:id', requireScope('enrollments:write'), async (ctx) => {
      ctx.body = enrollmentJson(await enrollments.get(ctx.params.id!), clock());
    });
    router.post('/enrollment-links/:id/revoke', requireScope('enrollments:write'), async (ctx) => {
      ctx.body = enrollmentJson(await enrollments.revoke({ clientId: callerOf(ctx).clientId }, ctx.params.id!), clock());
    });
  };
}

const date = { type: 'string', format: 'date-time' };
const nullableDate = { type: ['string', 'null'], format: 'date-time' };
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const problem = (description: string) => ({ $ref: '#/components/responses/Problem', description });
const errors = (extra: Record<string, string>) => ({
  ...Object.fromEntries(Object.entries(extra).map(([s, d]) => [s, problem(d)])),
  '401': problem('Missing or invalid access token (`invalid_token`).'),
  '403': problem('The token lacks the `enrollments:write` scope (`insufficient_scope`).'),
});
const security = [{ clientCredentials: ['enrollments:write'] }];
const idParam = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'string' } });

export const enrollmentsOpenApi: OpenApiPart = {
  schemas: {
    EnrollmentLink: {
      type: 'object',
      properties: {
        id: { type: 'string' },
        user_id: { type: 'string' },
        status: { enum: ['created', 'opened', 'completed', 'expired', 'revoked'] },
        invited_by: { type: 'string' },
        authenticator_attachment: { enum: ['platform', 'cross-platform', null] },
        resident_key: { enum: ['required', 'preferred', 'discouraged'] },
        passkey_policy: { type: 'object' },
        expires_at: date,
        created_at: date,
        opened_at: nullableDate,
        completed_at: nullableDate,
        revoked_at: nullableDate,
        passkey_id: { type: ['string', 'null'] },
      },
    },
    NewEnrollmentLink: {
      type: 'object',
      additionalProperties: false,
      properties: {
        expires_in: { type: 'integer', minimum: 60, maximum: 2592000, default: 604800, description: 'Seconds.' },
        invited_by: { type: 'string', maxLength: 100, description: 'Shown to the person; defaults to your client’s name.' },
        send_email: { type: 'boolean', default: false, description: 'Also mail the link to the user.' },
        locale: {
          type: 'string',
          pattern: '^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$',
          examples: ['de'],
          description: 'Language of the mail (en, de or es; de-AT counts as de). Others, or none, get LATCHKEY_DEFAULT_LOCALE.',
        },
        authenticator_attachment: { enum: ['platform', 'cross-platform'], description: 'Browser hint: this device, or a security key / phone.' },
        resident_key: { enum: ['required', 'preferred', 'discouraged'], default: 'required', description: 'Browser hint: a discoverable passkey.' },
        passkey_policy: {
          type: 'object',
          description: 'Enforced by Latchkey, as the client metadata of the same name.',
          properties: {
            user_verification: { enum: ['required', 'preferred'] },
            attestation: { enum: ['none', 'indirect', 'direct'] },
            allowed_aaguids: { type: 'array', items: { type: 'string', format: 'uuid' } },
            denied_aaguids: { type: 'array', items: { type: 'string', format: 'uuid' } },
            device_bound_only: { type: 'boolean' },
            trusted_roots: { type: 'array', items: { type: 'string', description: 'PEM' } },
          },
        },
      },
    },
  },
  paths: {
    '/users/{id}/enrollment-links': {
      parameters: [idParam('id')],
      post: {
        tags: ['enrollment links'],
        summary: 'Invite the user to create a passkey: a single-use, expiring link (URL and QR code in this answer only)',
        requestBody: { content: { 'application/json': { schema: ref('NewEnrollmentLink') } } },
        security,
        responses: {
          '201': {
            description: 'Created',
            content: { 'application/json': { schema: { allOf: [ref('EnrollmentLink'), { type: 'object', properties: { url: { type: 'string', format: 'uri' }, qr_svg: { type: 'string', description: 'An SVG QR code of the URL.' } } }] } } },
          },
          ...errors({ '400': 'Invalid fields (`invalid_request`).', '404': 'No such user (`user_not_found`).', '409': 'The user is disabled (`user_disabled`).' }),
        },
      },
    },
    '/enrollment-links/{id}': {
      parameters: [idParam('id')],
      get: { tags: ['enrollment links'], summary: 'The link’s status', security, responses: { '200': { description: 'OK', content: { 'application/json': { schema: ref('EnrollmentLink') } } }, ...errors({ '404': 'No such link (`enrollment_not_found`).' }) } },
    },
    '/enrollment-links/{id}/revoke': {
      parameters: [idParam('id')],
      post: {
        tags: ['enrollment links'],
        summary: 'Revoke a link that was not used yet',
        security,
        responses: { '200': { description: 'Revoked', content: { 'application/json': { schema: ref('EnrollmentLink') } } }, ...errors({ '404': 'No such link (`enrollment_not_found`).', '409': 'Already completed, expired or revoked (`enrollment_not_active`).' }) },
      },
    },
  },
};
