import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

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

  constructor(options: { defaultMetrics?: boolean } = {}) {
    // Process CPU, memory, event-loop lag, GC: what an operator graphs next to the request rate.
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'latchkey_' });
  }
}
