import { randomBytes } from 'node:crypto';
import { DomainError } from './errors.ts';
import { SECURITY_EVENT_TYPES } from './events.ts';

/** A subscription: where to POST which event types, and the secret that signs them. */
export interface Webhook {
  readonly id: string;
  readonly url: string;
  readonly eventTypes: readonly string[];
  readonly description: string | null;
  readonly createdBy: string | null;
  readonly createdAt: number;
}

export interface WebhookStore {
  create(webhook: Webhook & { secret: string }): Promise<void>;
  list(): Promise<Webhook[]>;
  find(id: string): Promise<Webhook | undefined>;
  /** Deletes the subscription and its pending deliveries; false if absent. */
  delete(id: string): Promise<boolean>;
  /** Recent deliveries of one subscription, newest first. */
  deliveries(id: string, limit: number): Promise<DeliveryRecord[]>;
}

export interface DeliveryRecord {
  readonly id: string;
  readonly eventId: string;
  readonly status: 'pending' | 'delivered' | 'failed';
  readonly attempts: number;
  readonly nextAttemptAt: number;
  readonly lastStatus: number | null;
  readonly lastError: string | null;
  readonly createdAt: number;
  readonly deliveredAt: number | null;
}

const FIELDS = new Set(['url', 'event_types', 'description']);

/** Webhook subscriptions, managed through the API. */
export class Webhooks {
  constructor(
    private readonly deps: {
      store: WebhookStore;
      clock: () => number;
      newId: () => string;
      /** Accept http:// URLs (local development); https only otherwise. */
      allowHttp: boolean;
    },
  ) {}

  /** Creates a subscription; the returned secret is never shown again. */
  async create(caller: { clientId: string }, body: unknown): Promise<{ webhook: Webhook; secret: string }> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('The body must be a JSON object.');
    const fields = body as Record<string, unknown>;
    const unknown = Object.keys(fields).find((k) => !FIELDS.has(k));
    if (unknown !== undefined) throw invalid(`Unknown field "${unknown.slice(0, 64)}".`);
    const webhook: Webhook = {
      id: this.deps.newId(),
      url: this.parseUrl(fields.url),
      eventTypes: parseEventTypes(fields.event_types),
      description: parseDescription(fields.description),
      createdBy: `client:${caller.clientId}`,
      createdAt: this.deps.clock(),
    };
    // 32 random bytes in the Standard Webhooks secret format.
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    await this.deps.store.create({ ...webhook, secret });
    return { webhook, secret };
  }

  list(): Promise<Webhook[]> {
    return this.deps.store.list();
  }

  async get(id: string): Promise<Webhook> {
    const webhook = await this.deps.store.find(id);
    if (!webhook) throw new DomainError('webhook_not_found', 'There is no webhook with this id.');
    return webhook;
  }

  async delete(id: string): Promise<void> {
    if (!(await this.deps.store.delete(id))) throw new DomainError('webhook_not_found', 'There is no webhook with this id.');
  }

  async deliveries(id: string): Promise<DeliveryRecord[]> {
    await this.get(id);
    return this.deps.store.deliveries(id, 100);
  }

  private parseUrl(value: unknown): string {
    const url = typeof value === 'string' && value.length <= 2000 ? URL.parse(value) : null;
    if (!url) throw new DomainError('invalid_webhook_url', 'url must be an absolute https URL.');
    const schemeOk = url.protocol === 'https:' || (this.deps.allowHttp && url.protocol === 'http:');
    // Credentials in the URL would be stored and logged; a fragment is never sent.
    if (!schemeOk || url.username || url.password || url.hash) {
      throw new DomainError('invalid_webhook_url', `url must be an absolute ${this.deps.allowHttp ? 'http(s)' : 'https'} URL without credentials or fragment.`);
    }
    return url.href;
  }
}

function invalid(message: string): DomainError {
  return new DomainError('invalid_request', message);
}

function parseEventTypes(value: unknown): string[] {
  if (value === undefined) return ['*'];
  const known = new Set<string>(['*', ...SECURITY_EVENT_TYPES]);
  if (!Array.isArray(value) || value.length === 0 || value.length > 50 || !value.every((t) => typeof t === 'string' && known.has(t))) {
    throw invalid(`event_types must be a non-empty list of: *, ${SECURITY_EVENT_TYPES.join(', ')}.`);
  }
  return [...new Set(value as string[])];
}

function parseDescription(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length > 200) throw invalid('description must be a string of at most 200 characters.');
  return value;
}

/** A due delivery a node has claimed: everything needed to send it. */
export interface ClaimedDelivery {
  readonly id: string;
  readonly claimToken: string;
  readonly attempts: number;
  readonly url: string;
  readonly secret: string;
  readonly event: { readonly id: string; readonly type: string; readonly accountId: string | null; readonly actor: string | null; readonly data: Record<string, unknown>; readonly createdAt: number };
}

export interface DeliveryStore {
  /**
   * Atomically claims up to `limit` due deliveries for `leaseMs` under a fresh token: a row
   * another node claimed (and whose lease has not ended) is never returned.
   */
  claim(now: number, leaseMs: number, limit: number): Promise<ClaimedDelivery[]>;
  /** Records the outcome, if the claim still holds. */
  finish(delivery: ClaimedDelivery, outcome: { delivered: boolean; now: number; nextAttemptAt: number | null; status: number | null; error: string | null }): Promise<void>;
}

/** Sends one signed delivery; resolves with the receiver's HTTP status, or an error. */
export interface WebhookSender {
  send(request: { url: string; secret: string; id: string; timestamp: Date; body: string }): Promise<{ status?: number; error?: string }>;
}

/** Delay before retry number `attempt` (1 = the first retry): doubling from `baseMs`, at most 6 hours. */
export function retryDelay(attempt: number, baseMs: number): number {
  return Math.min(baseMs * 2 ** Math.min(attempt - 1, 30), 6 * 3600 * 1000);
}

/** The JSON body of a delivery, in the Standard Webhooks shape (type, timestamp, data). */
export function deliveryBody(event: ClaimedDelivery['event']): string {
  return JSON.stringify({
    type: event.type,
    timestamp: new Date(event.createdAt).toISOString(),
    data: { event_id: event.id, user_id: event.accountId, actor: event.actor, ...event.data },
  });
}

/**
 * Drains the outbox: claims due deliveries, sends them, records the outcome and schedules
 * retries with exponential backoff. Safe to run on every node at once (claims are atomic).
 */
export class WebhookDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(
    private readonly deps: {
      store: DeliveryStore;
      sender: WebhookSender;
      clock: () => number;
      pollMs: number;
      retryBaseMs: number;
      maxAttempts: number;
      /** Longer than the sender's timeout, so no other node re-sends while a request is in flight. */
      leaseMs: number;
      batchSize?: number;
      reportFailure: (error: unknown) => void;
    },
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops polling and waits for the deliveries in flight to be recorded. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.runOnce()
        .then((sent) => sent)
        .catch((error: unknown) => {
          this.deps.reportFailure(error);
          return 0;
        })
        .then((sent) => {
          this.running = undefined;
          // A full batch suggests more are due: go again at once.
          this.schedule(sent >= (this.deps.batchSize ?? 20) ? 0 : this.deps.pollMs);
        });
    }, ms);
    this.timer.unref();
  }

  /** One pass: claims a batch and sends it; resolves with how many were attempted. */
  async runOnce(): Promise<number> {
    const claimed = await this.deps.store.claim(this.deps.clock(), this.deps.leaseMs, this.deps.batchSize ?? 20);
    await Promise.all(claimed.map((d) => this.deliver(d)));
    return claimed.length;
  }

  private async deliver(delivery: ClaimedDelivery): Promise<void> {
    const result = await this.deps.sender.send({
      url: delivery.url,
      secret: delivery.secret,
      id: delivery.id,
      timestamp: new Date(this.deps.clock()),
      body: deliveryBody(delivery.event),
    });
    const now = this.deps.clock();
    const delivered = result.status !== undefined && result.status >= 200 && result.status < 300;
    const attempts = delivery.attempts + 1;
    await this.deps.store.finish(delivery, {
      delivered,
      now,
      nextAttemptAt: delivered || attempts >= this.deps.maxAttempts ? null : now + retryDelay(attempts, this.deps.retryBaseMs),
      status: result.status ?? null,
      error: delivered ? null : (result.error ?? `HTTP ${result.status}`).slice(0, 500),
    });
  }
}
