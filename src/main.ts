import { createServer } from 'node:http';
import { createApp } from './app.ts';
import { readClientsFile } from './config/clients-file.ts';
import { ConfigError, loadConfig } from './config/env.ts';
import { systemClock } from './domain/clock.ts';
import { createLogger } from './logging.ts';
import { LogMailer, SmtpMailer } from './mail/mailer.ts';
import { openDatabase } from './storage/db.ts';
import { migrateToLatest } from './storage/migrate.ts';
import { schedulePurge } from './storage/purge.ts';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`Latchkey cannot start: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  const clients = config.clientsFile ? readClientsFile(config.clientsFile, process.env) : [];
  const db = openDatabase(config.database);
  const applied = await migrateToLatest(db);
  if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
  if (!config.smtpUrl) logger.warn('SMTP_URL is not set: emails (with their codes) are written to this log. Set SMTP_URL for real use.');
  const mailer = config.smtpUrl ? new SmtpMailer(config.smtpUrl, config.mailFrom) : new LogMailer(logger);
  const { app } = await createApp({ config, db, logger, mailer, clients, clock: systemClock });

  const stopPurge = schedulePurge(db, 5 * 60 * 1000, (result) => {
    if (result instanceof Error) logger.warn({ err: result }, 'expired-row purge failed; will retry');
    else logger.debug({ removed: result }, 'expired rows purged');
  });

  const server = createServer(app.callback());
  server.listen(config.port, config.host, () => {
    logger.info({ issuer: config.issuer, port: config.port }, 'Latchkey is listening');
    console.log(`Latchkey issuer: ${config.issuer}\nDiscovery: ${config.issuer}/.well-known/openid-configuration`);
  });

  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    stopPurge();
    server.close(() => {
      void db.destroy().then(() => process.exit(0));
    });
    server.closeIdleConnections();
    setTimeout(() => process.exit(1), 10_000).unref();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  console.error('Latchkey failed to start:', error);
  process.exit(1);
});
