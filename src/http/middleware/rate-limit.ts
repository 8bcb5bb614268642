import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRedis, RateLimiterRes, RateLimiterSQLite, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { DomainError } from '../../domain/errors.ts';
import { isPostgres, type Db } from '../../storage/db.ts';
import { queryThroughStatements, upsertThroughKnex } from '../../storage/rate-limits.ts';

/** A budget: `points` requests per `duration` seconds. */
interface Rule {
  readonly points: number;
  readonly duration: number;
}

/**
 * The budgets, per client IP and per subject (the email a code goes to, the interaction a code
 * is checked in, the credential used, the OAuth client). Generous for people, tight for scripts.
 */
export const RULES = {
  codeSend: { ip: { points: 10, duration: 900 }, subject: { points: 5, duration: 3600 } },
  codeCheck: { ip: { points: 30, duration: 900 }, subject: { points: 10, duration: 900 } },
  ceremonyOptions: { ip: { points: 120, duration: 60 } },
  ceremonyVerify: { ip: { points: 60, duration: 60 }, subject: { points: 20, duration: 60 } },
  token: { ip: { points: 600, duration: 60 }, subject: { points: 300, duration: 60 } },
} as const satisfies Record<string, { ip: Rule; subject?: Rule }>;

export type LimitName = keyof typeof RULES;

/** The longest a repeat offender waits: limits slow attackers down, they never lock anyone out for good. */
const MAX_BLOCK_SECONDS = 86_400;

export class RateLimited extends DomainError {
  constructor(readonly retryAfterSeconds: number) {
    super('rate_limited', `Too many attempts. Please wait ${retryAfterSeconds} ${retryAfterSeconds === 1 ? 'second' : 'seconds'} and try again.`);
  }
}

/** A limiter, and when it can take requests (the SQLite store checks its table first). */
type StoreFactory = (keyPrefix: string, rule: Rule) => { limiter: RateLimiterAbstract; ready: Promise<void> };

/**
 * On SQLite (one node), a budget whose window is at most this long is counted in memory: a
 * restart takes about as long as its window, so persisting it would protect nothing, and it
 * would cost a database write on every ceremony and token request.
 */
export const MEMORY_WINDOW_SECONDS = 60;

/**
 * Counters live where every node sees them: Redis when configured, else the database (table
 * from the migrations); on SQLite, the per-minute budgets of the hot paths live in memory.
 */
export function storeFactory(db: Db, redis?: Redis): StoreFactory {
  return (keyPrefix, rule) => {
    const memory = new RateLimiterMemory({ keyPrefix, points: rule.points, duration: rule.duration });
    if (!redis && !isPostgres(db) && rule.duration <= MEMORY_WINDOW_SECONDS) return { limiter: memory, ready: Promise.resolve() };
    // If the shared store fails, each node falls back to its own memory instead of failing requests.
    const options = { keyPrefix, points: rule.points, duration: rule.duration, insuranceLimiter: memory };
    if (redis) return { limiter: new RateLimiterRedis({ ...options, storeClient: redis }), ready: Promise.resolve() };
    if (isPostgres(db)) {
      const limiter = new RateLimiterPostgres({ ...options, storeClient: db, storeType: 'knex', tableName: 'rate_limits', tableCreated: true });
      queryThroughStatements(limiter, db);
      return { limiter, ready: Promise.resolve() };
    }
    let limiter!: RateLimiterAbstract;
    const ready = new Promise<void>((resolve, reject) => {
      limiter = new RateLimiterSQLite({ ...options, storeClient: db, storeType: 'knex', tableName: 'rate_limits' }, (error?: Error) =>
        error ? reject(error) : resolve(),
      );
    });
    upsertThroughKnex(limiter, db);
    return { limiter, ready };
  };
}

/**
 * Consumes budgets and answers 429 with Retry-After when one is spent. Each time a key goes
 * over its budget within a day, its wait doubles (up to an hour).
 */
export class RateLimits {
  private readonly limiters = new Map<string, RateLimiterAbstract>();
  private readonly strikes: RateLimiterAbstract;
  /** Resolves once every store can take requests; await it before serving. */
  readonly ready: Promise<void>;

  constructor(
    store: StoreFactory,
    /** Multiplies every budget (operators with many users behind one address raise it). */
    scale = 1,
    private readonly onLimited: (name: LimitName, scope: 'ip' | 'subject') => void = () => {},
  ) {
    const waits: Promise<void>[] = [];
    const make = (prefix: string, rule: Rule) => {
      const { limiter, ready } = store(`rl:${prefix}`, rule);
      waits.push(ready);
      return limiter;
    };
    for (const [name, rules] of Object.entries(RULES) as [LimitName, { ip: Rule; subject?: Rule }][]) {
      for (const [scope, rule] of Object.entries(rules) as ['ip' | 'subject', Rule][]) {
        this.limiters.set(`${name}:${scope}`, make(`${name}:${scope}`, { points: rule.points * scale, duration: rule.duration }));
      }
    }
    this.strikes = make('strikes', { points: 1_000_000, duration: 86_400 });
    this.ready = Promise.all(waits).then(() => undefined);
  }

  /** Spends one point of the IP budget and, when given, the subject budget. Throws RateLimited. */
  async consume(name: LimitName, ip: string, subject?: string): Promise<void> {
    const rules: { ip: Rule; subject?: Rule } = RULES[name];
    await this.spend(name, 'ip', ip);
    if (subject !== undefined && rules.subject) await this.spend(name, 'subject', subject);
  }

  private async spend(name: LimitName, scope: 'ip' | 'subject', key: string): Promise<void> {
    const limiter = this.limiters.get(`${name}:${scope}`)!;
    try {
      await limiter.consume(key);
    } catch (result) {
      if (!(result instanceof RateLimiterRes)) throw result;
      const struck = await this.strikes.penalty(`${name}:${scope}:${key}`, 1);
      const seconds = Math.min(Math.max(Math.ceil(result.msBeforeNext / 1000), 1) * 2 ** Math.min(struck.consumedPoints - 1, 12), MAX_BLOCK_SECONDS);
      if (struck.consumedPoints > 1) await limiter.block(key, seconds);
      this.onLimited(name, scope);
      throw new RateLimited(seconds);
    }
  }
}
