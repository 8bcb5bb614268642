import type Router from '@koa/router';
import type { Context } from 'koa';
import type { ManagedUser, UserManagement } from '../../domain/management/users.ts';
import type { Passkey } from '../../domain/passkeys/types.ts';
import { callerOf, requireScope } from './auth.ts';

export function userJson(user: ManagedUser): Record<string, unknown> {
  return {
    id: user.id,
    email: user.email,
    email_verified: user.emailVerified,
    name: user.name,
    external_id: user.externalId,
    status: user.status,
    created_at: new Date(user.createdAt).toISOString(),
    updated_at: new Date(user.updatedAt).toISOString(),
  };
}

export function passkeyJson(passkey: Passkey): Record<string, unknown> {
  return {
    id: passkey.id,
    name: passkey.name,
    aaguid: passkey.aaguid,
    device_type: passkey.deviceType === 'multiDevice' ? 'multi_device' : 'single_device',
    backed_up: passkey.backedUp,
    transports: passkey.transports,
    created_at: new Date(passkey.createdAt).toISOString(),
    last_used_at: passkey.lastUsedAt === null ? null : new Date(passkey.lastUsedAt).toISOString(),
  };
}

/** A query parameter given once, or undefined; a repeated one is refused by the domain as not a string. */
function query(ctx: Context, name: string): unknown {
  return ctx.query[name];
}

/** /users: create, read, list, disable/enable, delete; /users/{id}/passkeys: list, remove. */
export function userRoutes(router: Router, users: UserManagement): void {
  const caller = (ctx: Context) => ({ clientId: callerOf(ctx).clientId });

  router.post('/users', requireScope('users:write'), async (ctx) => {
    const user = await users.create(caller(ctx), ctx.request.body);
    ctx.status = 201;
    ctx.set('Location', `${ctx.path}/${encodeURIComponent(user.id)}`);
    ctx.body = userJson(user);
  });

  router.get('/users', requireScope('users:read'), async (ctx) => {
    const page = await users.list({ cursor: query(ctx, 'cursor'), limit: query(ctx, 'limit'), email: query(ctx, 'email'), external_id: query(ctx, 'external_id') });
    ctx.body = { data: page.items.map(userJson), next_cursor: page.nextCursor };
  });

  router.get('/users/:id', requireScope('users:read'), async (ctx) => {
    ctx.body = userJson(await users.get(ctx.params.id!));
  });

  router.post('/users/:id/disable', requireScope('users:write'), async (ctx) => {
    ctx.body = userJson(await users.setStatus(caller(ctx), ctx.params.id!, 'disabled'));
  });

  router.post('/users/:id/enable', requireScope('users:write'), async (ctx) => {
    ctx.body = userJson(await users.setStatus(caller(ctx), ctx.params.id!, 'active'));
  });

  router.delete('/users/:id', requireScope('users:write'), async (ctx) => {
    await users.delete(caller(ctx), ctx.params.id!);
    ctx.status = 204;
  });

  router.get('/users/:id/passkeys', requireScope('users:read'), async (ctx) => {
    ctx.body = { data: (await users.passkeys(ctx.params.id!)).map(passkeyJson) };
  });

  router.delete('/users/:id/passkeys/:passkeyId', requireScope('users:write'), async (ctx) => {
    await users.removePasskey(caller(ctx), ctx.params.id!, ctx.params.passkeyId!);
    ctx.status = 204;
  });
}
