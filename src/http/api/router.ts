import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import Koa from 'koa';
import type Provider from 'oidc-provider';
import type { UserManagement } from '../../domain/management/users.ts';
import type { Logger } from '../../logging.ts';
import { requireApiToken } from './auth.ts';
import { openApiDocument, type OpenApiPart } from './openapi.ts';
import { apiProblems } from './problems.ts';
import { userRoutes } from './users.ts';

export interface ApiDeps {
  readonly provider: Provider;
  readonly issuer: string;
  /** The API's resource indicator: the audience its tokens must carry. */
  readonly resource: string;
  readonly logger: Logger;
  readonly users: UserManagement;
  /** Further route groups (events, webhooks, enrollment links), added behind the token check. */
  readonly routes?: ReadonlyArray<(router: Router) => void>;
  /** Their OpenAPI paths and schemas. */
  readonly openApi?: readonly OpenApiPart[];
}

/**
 * The management API, to be mounted at /api/v1: problem details for every error, the OpenAPI
 * document in the open, everything else behind a client-credentials token.
 */
export function managementApi(deps: ApiDeps): Koa {
  const api = new Koa();
  const document = openApiDocument(deps.issuer, deps.resource, deps.openApi);
  api.use(apiProblems(deps.logger));
  api.use(async (ctx, next) => {
    // Answers carry account data: no cache may keep them.
    ctx.set('Cache-Control', 'no-store');
    await next();
  });
  api.use(async (ctx, next) => {
    if (ctx.method === 'GET' && ctx.path === '/openapi.json') {
      ctx.body = document;
      return;
    }
    await next();
  });
  api.use(requireApiToken(deps.provider, deps.resource));
  api.use(bodyParser({ enableTypes: ['json'], jsonLimit: '32kb', jsonStrict: true }));
  const router = new Router();
  userRoutes(router, deps.users);
  for (const add of deps.routes ?? []) add(router);
  api.use(router.routes());
  api.use(router.allowedMethods());
  return api;
}
