import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClientMetadata } from 'oidc-provider';
import type Provider from 'oidc-provider';
import { createApp } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config/env.ts';
import type { Mailer, MailMessage } from '../../src/domain/mailer.ts';
import { createLogger, type Logger } from '../../src/logging.ts';
import type { Metrics } from '../../src/metrics.ts';
import { openDatabase, type Db } from '../../src/storage/db.ts';
import { migrateToLatest } from '../../src/storage/migrate.ts';
import { openTestDatabase, type DatabaseKind, type TestDatabase } from './databases.ts';

export const INITIAL_ACCESS_TOKEN = 'test-initial-access-token-0123456789';

/** Captures every mail, so tests can read the codes a person would receive. */
export class Mailbox implements Mailer {
  readonly sent: MailMessage[] = [];

  async send(message: MailMessage): Promise<void> {
    this.sent.push(message);
  }

  /** The last 6-digit code mailed to this address. */
  lastCode(to: string): string {
    const mail = this.sent.filter((m) => m.to === to).at(-1);
    const code = mail?.text.match(/\b(\d{6})\b/)?.[1];
    if (!code) throw new Error(`no code was mailed to ${to}`);
    return code;
  }
}

export interface TestServer {
  readonly issuer: string;
  readonly port: number;
  readonly config: Config;
  readonly db: Db;
  readonly provider: Provider;
  readonly metrics: Metrics;
  readonly mailbox: Mailbox;
  /** The database this server was started on (shared with servers started with `sameDatabaseAs`). */
  readonly database: TestDatabase | undefined;
  /** Picks up key rotations from the database now (nodes do it on an interval). */
  reloadKeys(): Promise<boolean>;
  /** Moves Latchkey's clock (not oidc-provider's) forward. */
  advanceClock(ms: number): void;
  url(path: string): string;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Extra environment; `{PORT}` in a value becomes the port the server got. */
  readonly env?: Record<string, string>;
  readonly clients?: ClientMetadata[];
  /** An existing SQLite file (to test restarts); a fresh one otherwise. */
  readonly sqliteFile?: string;
  /** A Redis client for shared rate-limit counters. */
  readonly redis?: import('ioredis').Redis;
  /**
   * `sqlite` (a fresh file) or `postgres` (a fresh schema on the test server, dropped on
   * close). Defaults to LATCHKEY_TEST_DATABASE, else sqlite.
   */
  readonly database?: DatabaseKind;
  /** Another node: share that server's database (its own pool); the first server drops it. */
  readonly sameDatabaseAs?: TestServer;
  /** Where logs go (default: a silent logger, or LATCHKEY_TEST_LOG_LEVEL on stdout). */
  readonly logger?: Logger;
}

/**
 * Boots Latchkey as `npm start` would, on a fresh SQLite file built by the real migrations,
 * listening on 127.0.0.1 with the issuer http://localhost:PORT (a WebAuthn secure context).
 */
export async function startLatchkey(options: StartOptions = {}): Promise<TestServer> {
  const kind = options.database ?? (process.env.LATCHKEY_TEST_DATABASE as DatabaseKind | undefined) ?? 'sqlite';
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-test-'));
  const sqliteFile = options.sqliteFile ?? join(dir, 'latchkey.sqlite3');
  // A database this server owns (created here, dropped on close), unless it joins another's.
  const owned = options.sameDatabaseAs || options.sqliteFile || kind === 'sqlite' ? undefined : await openTestDatabase(kind, { migrate: false });
  const database = options.sameDatabaseAs?.database ?? owned;
  const databaseUrl = options.sameDatabaseAs?.config.database.client === 'sqlite' ? `sqlite:${options.sameDatabaseAs.config.database.filename}` : (database?.url ?? `sqlite:${sqliteFile}`);
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const config = tryOrClose(server, () => loadConfig({
    PORT: String(port),
    DATABASE_URL: databaseUrl,
    LATCHKEY_INITIAL_ACCESS_TOKEN: INITIAL_ACCESS_TOKEN,
    LOG_LEVEL: process.env.LATCHKEY_TEST_LOG_LEVEL ?? 'silent',
    // Protocol suites make hundreds of ceremonies from one address; test/security/rate-limits uses the real budgets.
    LATCHKEY_RATE_LIMIT_SCALE: '1000',
    ...Object.fromEntries(Object.entries(options.env ?? {}).map(([k, v]) => [k, v.replaceAll('{PORT}', String(port))])),
  }));
  const db = openDatabase(config.database);
  await migrateToLatest(db);
  const mailbox = new Mailbox();
  let offset = 0;
  const built = await createApp({
    config,
    db,
    logger: options.logger ?? createLogger(config.logLevel),
    mailer: mailbox,
    clients: options.clients ?? [],
    clock: () => Date.now() + offset,
    redis: options.redis,
  }).catch(async (error: unknown) => {
    // A start that fails (tests of bad configuration) leaves nothing open behind it.
    server.close();
    await db.destroy();
    throw error;
  });
  const { app, provider, metrics, reloadKeys, webhookDispatcher } = built;
  server.on('request', app.callback());
  webhookDispatcher.start();
  return {
    issuer: config.issuer,
    port,
    config,
    db,
    provider,
    metrics,
    mailbox,
    database,
    reloadKeys,
    advanceClock: (ms) => {
      offset += ms;
    },
    url: (path) => `${config.issuer}${path}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await webhookDispatcher.stop();
      await db.destroy();
      await owned?.close();
      if (!options.sqliteFile) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs a start step; if it throws, the listening server is closed first. */
function tryOrClose<T>(server: Server, step: () => T): T {
  try {
    return step();
  } catch (error) {
    server.close();
    throw error;
  }
}
