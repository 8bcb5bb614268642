import { createHash, timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import type { Metrics } from '../metrics.ts';
import type { DatabaseHealth } from '../storage/health.ts';

export interface OperationsDeps {
  readonly metrics: Metrics;
  /** When set, /metrics answers only requests bearing this token. */
  readonly metricsToken: string | undefined;
  readonly databaseHealth: () => Promise<DatabaseHealth>;
  /** True once the process is shutting down: the load balancer should stop sending requests. */
  readonly draining: () => boolean;
}

function sameSecret(given: string, expected: string): boolean {
  // Compare digests, so neither the length nor the content leaks through timing.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** Probes and metrics for operators: /healthz, /readyz, /metrics. */
export function operationsRouter(deps: OperationsDeps): Router {
  const router = new Router();

  // Liveness: the process answers. Nothing else, so a database outage never restarts every node.
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });

  // Readiness: this node can serve sign-ins (database reachable, schema current, not draining).
  router.get('/readyz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const health = await deps.databaseHealth();
    const draining = deps.draining();
    const ready = health.reachable && health.migrationsCurrent && !draining;
    ctx.status = ready ? 200 : 503;
    ctx.body = {
      status: ready ? 'ready' : 'unavailable',
      checks: {
        database: health.reachable ? 'ok' : 'unreachable',
        migrations: !health.reachable ? 'unknown' : health.migrationsCurrent ? 'current' : 'pending',
        shutdown: draining ? 'draining' : 'no',
      },
    };
  });

  router.get('/metrics', async (ctx) => {
    if (deps.metricsToken !== undefined) {
      const given = /^Bearer (.+)$/i.exec(ctx.get('authorization'))?.[1] ?? '';
      if (!sameSecret(given, deps.metricsToken)) {
        ctx.status = 401;
        ctx.set('WWW-Authenticate', 'Bearer realm="latchkey-metrics"');
        ctx.body = { error: 'invalid_token' };
        return;
      }
    }
    ctx.set('Cache-Control', 'no-store');
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });

  return router;
}
