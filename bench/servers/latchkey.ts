/**
 * Latchkey as `npm start` runs it (same config parsing, migrations, app, logger), except that
 * mail goes to the load generator over IPC so it can sign people up during setup.
 */
import { createServer } from 'node:http';
import { createApp } from '../../src/app.ts';
import { readClientsFile } from '../../src/config/clients-file.ts';
import { loadConfig } from '../../src/config/env.ts';
import { systemClock } from '../../src/domain/clock.ts';
import { createLogger } from '../../src/logging.ts';
import { openDatabase } from '../../src/storage/db.ts';
import { migrateToLatest } from '../../src/storage/migrate.ts';
import { announceReady, forwardMail, serveStats } from './ipc.ts';

const config = loadConfig();
const logger = createLogger(config.logLevel);
const db = openDatabase(config.database);
await migrateToLatest(db);
const { app, reloadKeys } = await createApp({
  config,
  db,
  logger,
  mailer: { send: async (message) => forwardMail(message.to, message.text) },
  clients: config.clientsFile ? readClientsFile(config.clientsFile, process.env) : [],
  clock: systemClock,
});
// As in production: every node polls for rotated keys.
setInterval(() => void reloadKeys().catch(() => undefined), config.keyReloadInterval * 1000).unref();

let queries = 0;
db.on('query', () => queries++);
serveStats(() => queries);
process.on('disconnect', () => void db.destroy().finally(() => process.exit(0)));
const server = createServer(app.callback());
server.listen(config.port, '127.0.0.1', () => announceReady((server.address() as { port: number }).port));
