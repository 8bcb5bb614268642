import type Router from '@koa/router';
import type { AuditLog, RecordedEvent } from '../../domain/events.ts';
import { SECURITY_EVENT_TYPES } from '../../domain/events.ts';
import type { DeliveryRecord, Webhook, Webhooks } from '../../domain/webhooks.ts';
import { callerOf, requireScope } from './auth.ts';
import type { OpenApiPart } from './openapi.ts';

export function eventJson(event: RecordedEvent): Record<string, unknown> {
  return {
    id: event.id,
    type: event.type,
    user_id: event.accountId,
    actor: event.actor,
    data: event.data,
    created_at: new Date(event.createdAt).toISOString(),
  };
}

export function webhookJson(webhook: Webhook): Record<string, unknown> {
  return {
    id: webhook.id,
    url: webhook.url,
    event_types: webhook.eventTypes,
    description: webhook.description,
    created_at: new Date(webhook.createdAt).toISOString(),
  };
}

function deliveryJson(delivery: DeliveryRecord): Record<string, unknown> {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: delivery.id,
    event_id: delivery.eventId,
    status: delivery.status,
    attempts: delivery.attempts,
    next_attempt_at: delivery.status === 'pending' ? iso(delivery.nextAttemptAt) : null,
    last_status: delivery.lastStatus,
    last_error: delivery.lastError,
    created_at: iso(delivery.createdAt),
    delivered_at: iso(delivery.deliveredAt),
  };
}

/** GET /events: the audit log, oldest first, with cursor pagination. */
export function eventRoutes(log: AuditLog): (router: Router) => void {
  return (router) => {
    router.get('/events', requireScope('events:read'), async (ctx) => {
      const q = ctx.query;
      const page = await log.list({ cursor: q.cursor, limit: q.limit, type: q.type, user_id: q.user_id });
      ctx.body = { data: page.items.map(eventJson), next_cursor: page.nextCursor };
    });
  };
}

/** /webhooks: subscribe (the secret is shown once), list, read, delete, and recent deliveries. */
export function webhookRoutes(webhooks: Webhooks): (router: Router) => void {
  return (router) => {
    router.post('/webhooks', requireScope('webhooks:write'), async (ctx) => {
      const { webhook, secret } = await webhooks.create({ clientId: callerOf(ctx).clientId }, ctx.request.body);
      ctx.status = 201;
      ctx.set('Location', `${ctx.path}/${webhook.id}`);
      ctx.body = { ...webhookJson(webhook), secret };
    });
    router.get('/webhooks', requireScope('webhooks:write'), async (ctx) => {
      ctx.body = { data: (await webhooks.list()).map(webhookJson) };
    });
    router.get('/webhooks/:id', requireScope('webhooks:write'), async (ctx) => {
      ctx.body = webhookJson(await webhooks.get(ctx.params.id!));
    });
    router.delete('/webhooks/:id', requireScope('webhooks:write'), async (ctx) => {
      await webhooks.delete(ctx.params.id!);
      ctx.status = 204;
    });
    router.get('/webhooks/:id/deliveries', requireScope('webhooks:write'), async (ctx) => {
      ctx.body = { data: (await webhooks.deliveries(ctx.params.id!)).map(deliveryJson) };
    });
  };
}

const date = { type: 'string', format: 'date-time' };
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const problem = (description: string) => ({ $ref: '#/components/responses/Problem', description });
const auth = (scope: string) => ({
  security: [{ clientCredentials: [scope] }],
});
const errors = (scope: string, extra: Record<string, string> = {}) => ({
  ...Object.fromEntries(Object.entries(extra).map(([s, d]) => [s, problem(d)])),
  '401': problem('Missing or invalid access token (`invalid_token`).'),
  '403': problem(`The token lacks the \`${scope}\` scope (\`insufficient_scope\`).`),
});
const ok = (schema: unknown, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };

/** The OpenAPI description of /events and /webhooks. */
export const eventsOpenApi: OpenApiPart = {
  schemas: {
    Event: {
      type: 'object',
      properties: {
        id: { type: 'string' },
        type: { enum: [...SECURITY_EVENT_TYPES] },
        user_id: { type: ['string', 'null'] },
        actor: { type: ['string', 'null'], description: '`client:<id>` (management API), `cli` (the `latchkey` command-line tool), `user`, or `system`.' },
        data: { type: 'object' },
        created_at: date,
      },
    },
    Webhook: {
      type: 'object',
      properties: { id: { type: 'string' }, url: { type: 'string', format: 'uri' }, event_types: { type: 'array', items: { type: 'string' } }, description: { type: ['string', 'null'] }, created_at: date },
    },
    NewWebhook: {
      type: 'object',
      required: ['url'],
      additionalProperties: false,
      properties: {
        url: { type: 'string', format: 'uri', description: 'https (http only with LATCHKEY_WEBHOOK_ALLOW_HTTP).' },
        event_types: { type: 'array', items: { enum: ['*', ...SECURITY_EVENT_TYPES] }, default: ['*'] },
        description: { type: 'string', maxLength: 200 },
      },
    },
    Delivery: {
      type: 'object',
      properties: {
        id: { type: 'string', description: 'The `webhook-id` header; the same on every retry.' },
        event_id: { type: 'string' },
        status: { enum: ['pending', 'delivered', 'failed'] },
        attempts: { type: 'integer' },
        next_attempt_at: { type: ['string', 'null'], format: 'date-time' },
        last_status: { type: ['integer', 'null'] },
        last_error: { type: ['string', 'null'] },
        created_at: date,
        delivered_at: { type: ['string', 'null'], format: 'date-time' },
      },
    },
  },
  paths: {
    '/events': {
      get: {
        tags: ['events'],
        summary: 'Read the audit log, oldest first',
        parameters: [
          { name: 'cursor', in: 'query', schema: { type: 'string' } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
          { name: 'type', in: 'query', schema: { enum: [...SECURITY_EVENT_TYPES] } },
          { name: 'user_id', in: 'query', schema: { type: 'string' } },
        ],
        ...auth('events:read'),
        responses: {
          '200': ok({ type: 'object', properties: { data: { type: 'array', items: ref('Event') }, next_cursor: { type: ['string', 'null'] } } }),
          ...errors('events:read', { '400': 'Bad cursor (`invalid_cursor`), limit or type (`invalid_request`).' }),
        },
      },
    },
    '/webhooks': {
      post: {
        tags: ['webhooks'],
        summary: 'Subscribe a URL to events; the signing secret is in this answer only',
        requestBody: { required: true, content: { 'application/json': { schema: ref('NewWebhook') } } },
        ...auth('webhooks:write'),
        responses: {
          '201': ok({ allOf: [ref('Webhook'), { type: 'object', properties: { secret: { type: 'string', description: 'whsec_…: verify deliveries with it (Standard Webhooks).' } } }] }, 'Created'),
          ...errors('webhooks:write', { '400': 'Bad URL (`invalid_webhook_url`) or fields (`invalid_request`).' }),
        },
      },
      get: { tags: ['webhooks'], summary: 'List subscriptions', ...auth('webhooks:write'), responses: { '200': ok({ type: 'object', properties: { data: { type: 'array', items: ref('Webhook') } } }), ...errors('webhooks:write') } },
    },
    '/webhooks/{id}': {
      parameters: [idParam],
      get: { tags: ['webhooks'], summary: 'Read a subscription', ...auth('webhooks:write'), responses: { '200': ok(ref('Webhook')), ...errors('webhooks:write', { '404': 'No such webhook (`webhook_not_found`).' }) } },
      delete: { tags: ['webhooks'], summary: 'Delete a subscription and its pending deliveries', ...auth('webhooks:write'), responses: { '204': { description: 'Deleted' }, ...errors('webhooks:write', { '404': 'No such webhook (`webhook_not_found`).' }) } },
    },
    '/webhooks/{id}/deliveries': {
      parameters: [idParam],
      get: {
        tags: ['webhooks'],
        summary: 'The last 100 deliveries, newest first',
        ...auth('webhooks:write'),
        responses: { '200': ok({ type: 'object', properties: { data: { type: 'array', items: ref('Delivery') } } }), ...errors('webhooks:write', { '404': 'No such webhook (`webhook_not_found`).' }) },
      },
    },
  },
};
