import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClientMetadata } from 'oidc-provider';
import type Provider from 'oidc-provider';
import { createApp } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config/env.ts';
import type { Mailer, MailMessage } from '../../src/domain/mailer.ts';
import { createLogger } from '../../src/logging.ts';
import { openDatabase, type Db } from '../../src/storage/db.ts';
import { migrateToLatest } from '../../src/storage/migrate.ts';

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
  readonly mailbox: Mailbox;
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
}

/**
 * Boots Latchkey as `npm start` would, on a fresh SQLite file built by the real migrations,
 * listening on 127.0.0.1 with the issuer http://localhost:PORT (a WebAuthn secure context).
 */
export async function startLatchkey(options: StartOptions = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-test-'));
  const sqliteFile = options.sqliteFile ?? join(dir, 'latchkey.sqlite3');
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const config = loadConfig({
    PORT: String(port),
    DATABASE_URL: `sqlite:${sqliteFile}`,
    LATCHKEY_INITIAL_ACCESS_TOKEN: INITIAL_ACCESS_TOKEN,
    LOG_LEVEL: process.env.LATCHKEY_TEST_LOG_LEVEL ?? 'silent',
    ...Object.fromEntries(Object.entries(options.env ?? {}).map(([k, v]) => [k, v.replaceAll('{PORT}', String(port))])),
  });
  const db = openDatabase(config.database);
  await migrateToLatest(db);
  const mailbox = new Mailbox();
  let offset = 0;
  const { app, provider } = await createApp({
    config,
    db,
    logger: createLogger(config.logLevel),
    mailer: mailbox,
    clients: options.clients ?? [],
    clock: () => Date.now() + offset,
  });
  server.on('request', app.callback());
  return {
    issuer: config.issuer,
    port,
    config,
    db,
    provider,
    mailbox,
    advanceClock: (ms) => {
      offset += ms;
    },
    url: (path) => `${config.issuer}${path}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await db.destroy();
      if (!options.sqliteFile) rmSync(dir, { recursive: true, force: true });
    },
  };
}
