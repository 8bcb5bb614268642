import { createServer } from 'node:http';
import { Redis } from 'ioredis';
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
  if (config.issuer.startsWith('https:') && !config.trustProxy) {
    // Latchkey speaks plain HTTP: an https issuer means a TLS proxy in front, whose
    // X-Forwarded-Proto must be trusted, or secure cookies cannot be set and sign-in fails.
    logger.warn('LATCHKEY_ISSUER is https but LATCHKEY_TRUST_PROXY is off: put Latchkey behind a TLS-terminating proxy and set LATCHKEY_TRUST_PROXY=true');
  }
  if (!config.smtpUrl) logger.warn('SMTP_URL is not set: emails (with their codes) are written to this log. Set SMTP_URL for real use.');
  const mailer = config.smtpUrl ? new SmtpMailer(config.smtpUrl, config.mailFrom) : new LogMailer(logger);
  // Shared rate-limit counters; a Redis outage must not take sign-in down with it, so errors are logged.
  const redis = config.redisUrl ? new Redis(config.redisUrl, { maxRetriesPerRequest: 2, enableOfflineQueue: false }) : undefined;
  redis?.on('error', (error: Error) => logger.warn({ err: error }, 'redis error'));
  const { app, startDraining, reloadKeys, webhookDispatcher } = await createApp({ config, db, logger, mailer, clients, clock: systemClock, redis });
  webhookDispatcher.start();

  const stopPurge = schedulePurge(db, 5 * 60 * 1000, (result) => {
    if (result instanceof Error) logger.warn({ err: result }, 'expired-row purge failed; will retry');
    else logger.debug({ removed: result }, 'expired rows purged');
  });

  // Every node follows key rotations made by `latchkey keys …` without a restart.
  const keyReload = setInterval(() => {
    reloadKeys().then(
      (changed) => changed && logger.info('signing keys or cookie secrets changed: reloaded'),
      (error: unknown) => logger.warn({ err: error }, 'reloading keys failed; will retry'),
    );
  }, config.keyReloadInterval * 1000);
  keyReload.unref();

  const server = createServer(app.callback());
  server.listen(config.port, config.host, () => {
    logger.info({ issuer: config.issuer, port: config.port }, 'Latchkey is listening');
    console.log(`Latchkey issuer: ${config.issuer}\nDiscovery: ${config.issuer}/.well-known/openid-configuration`);
  });

  // Graceful shutdown: /readyz turns 503, the listener closes (no new connections), requests
  // in flight finish, keep-alive connections are closed as soon as they fall idle, then the
  // database pool is closed. Whatever is still running after 10 s is cut off (exit 1).
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    startDraining();
    stopPurge();
    clearInterval(keyReload);
    redis?.disconnect();
    const idleSweep = setInterval(() => server.closeIdleConnections(), 100);
    // Deliveries in flight are recorded before the pool closes; queued ones wait in the outbox.
    const webhooksStopped = webhookDispatcher.stop();
    server.close(() => {
      clearInterval(idleSweep);
      webhooksStopped.then(() => db.destroy()).then(
        () => {
          logger.info('shutdown complete');
          process.exit(0);
        },
        (error: unknown) => {
          logger.error({ err: error }, 'closing the database pool failed');
          process.exit(1);
        },
      );
    });
    server.closeIdleConnections();
    setTimeout(() => {
      logger.error('in-flight requests did not finish within 10 s; exiting');
      process.exit(1);
    }, 10_000).unref();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  console.error('Latchkey failed to start:', error);
  process.exit(1);
});
