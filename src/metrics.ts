import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The webhook outbox's backlog, read from the database when Prometheus scrapes. */
export interface WebhookBacklog {
  /** Deliveries not yet delivered and not given up. */
  readonly pending: number;
  /** When the oldest of them was queued (ms), or null when there is none. */
  readonly oldestCreatedAt: number | null;
}

/** The ceremonies whose outcomes are counted. */
export type Ceremony = 'signin' | 'stepup' | 'signup' | 'recovery';

/**
 * Latchkey's Prometheus metrics, in a registry of their own (one per app, so several apps in
 * one process — tests, the benchmark — never share counters). Labels are bounded: route
 * templates, methods, status codes and stable error codes, never ids, emails or tokens.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'latchkey_http_requests_total',
    help: 'HTTP requests served, by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'latchkey_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by method and route template',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly signIns = new Counter({
    name: 'latchkey_signins_total',
    help: 'Passkey sign-ins that finished the login step',
    registers: [this.registry],
  });

  readonly stepUps = new Counter({
    name: 'latchkey_stepups_total',
    help: 'Step-up ceremonies by outcome (met: the requirement was reached; unmet: the passkey fell short)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly signUps = new Counter({
    name: 'latchkey_signups_total',
    help: 'Accounts created (email proven and first passkey registered)',
    registers: [this.registry],
  });

  readonly recoveries = new Counter({
    name: 'latchkey_recoveries_total',
    help: 'Account recoveries completed (email proven and a new passkey registered)',
    registers: [this.registry],
  });

  readonly ceremonyFailures = new Counter({
    name: 'latchkey_ceremony_failures_total',
    help: 'Refused steps of sign-in, sign-up and recovery ceremonies, by ceremony and stable error code',
    labelNames: ['ceremony', 'code'] as const,
    registers: [this.registry],
  });

  private webhookBacklogProbe: (() => Promise<WebhookBacklog>) | undefined;
  private clock: () => number = Date.now;

  /** Deliveries waiting in the shared outbox: the same on every node (it is one table). */
  readonly webhookBacklog = new Gauge({
    name: 'latchkey_webhook_backlog',
    help: 'Webhook deliveries pending in the outbox (not yet delivered, not given up), read at scrape time',
    registers: [this.registry],
    collect: async () => {
      const backlog = await this.readBacklog();
      if (backlog) this.webhookBacklog.set(backlog.pending);
    },
  });

  readonly webhookBacklogAge = new Gauge({
    name: 'latchkey_webhook_backlog_oldest_age_seconds',
    help: 'Age of the oldest pending webhook delivery in seconds (0 when none is pending), read at scrape time',
    registers: [this.registry],
    collect: async () => {
      const backlog = await this.readBacklog();
      if (backlog) this.webhookBacklogAge.set(backlog.oldestCreatedAt === null ? 0 : Math.max(0, (this.clock() - backlog.oldestCreatedAt) / 1000));
    },
  });

  /** Where the backlog gauges read from at scrape time (the app passes the outbox query). */
  watchWebhookBacklog(probe: () => Promise<WebhookBacklog>, clock: () => number = Date.now): void {
    this.webhookBacklogProbe = probe;
    this.clock = clock;
  }

  private backlogInFlight: Promise<WebhookBacklog | undefined> | undefined;

  // Both gauges share one query per scrape: the registry collects them concurrently. When the
  // database does not answer, they keep their last values and /metrics still serves the rest.
  private readBacklog(): Promise<WebhookBacklog | undefined> {
    if (!this.webhookBacklogProbe) return Promise.resolve(undefined);
    this.backlogInFlight ??= this.webhookBacklogProbe()
      .catch(() => undefined)
      .finally(() => {
        this.backlogInFlight = undefined;
      });
    return this.backlogInFlight;
  }

  constructor(options: { defaultMetrics?: boolean } = {}) {
    // Process CPU, memory, event-loop lag, GC: what an operator graphs next to the request rate.
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'latchkey_' });
  }
}
