import { ConfigError, loadConfig, type Config } from '../config/env.ts';
import { openDatabase, type Db } from '../storage/db.ts';
import { migrateToLatest, migrationsAreCurrent } from '../storage/migrate.ts';
import { purgeExpired } from '../storage/purge.ts';
import { backupCommand } from './backup.ts';
import { clientsCommand } from './clients.ts';
import { keysCommand } from './keys.ts';
import { enrollmentsCommand, usersCommand } from './management.ts';
import { UsageError, type Output } from './output.ts';

const USAGE = `Usage: latchkey <command> [options]

Reads the same environment as the server (DATABASE_URL, LATCHKEY_ISSUER, …).

  migrate                              apply pending database migrations
  purge                                delete expired challenges, codes, sessions and tokens
  backup FILE                          SQLite: a consistent copy of the database, taken while Latchkey runs
  clients list [--json]                clients stored in the database (not those of LATCHKEY_CLIENTS_FILE)
  clients add --redirect-uri URL [--redirect-uri URL …] [--name NAME] [--id CLIENT_ID]
              [--post-logout-redirect-uri URL …] [--grant-type TYPE …] [--public]
              [--first-party] [--minimum-acr ACR]
                                       register a client; prints its id and secret once
  clients remove CLIENT_ID             remove a client and every grant and token issued to it
  keys list [--json]                   signing keys and cookie secrets with their states
  keys rotate  [--cookie | --alg ALG]  add the next key: published, not yet signing
  keys promote [--cookie | --alg ALG] [--force]
                                       the next key starts signing; the active one is kept to verify
  keys retire  [--cookie | --alg ALG] [--grace SECONDS]
                                       stop publishing keys whose tokens/cookies have expired
  users add EMAIL [--external-id ID]   create an account (audited with the actor "cli")
  users list [--email EMAIL] [--json]  accounts, with their ids and status
  users disable ID | enable ID         disable (ends sessions, voids tokens) or re-enable an account
  users delete ID                      delete an account with its passkeys, sessions and tokens
  enrollments create USER_ID [--expires-in SECONDS] [--email]
                                       a passkey enrollment link; prints its URL once
  enrollments revoke ID                withdraw an enrollment link

Signing-key commands act on ES256 and RS256 together unless --alg names one.
`;

/** Runs one command; returns the exit code (0 done, 1 refused or failed, 2 bad usage). */
export async function run(argv: string[], out: Output, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    out.print(USAGE);
    return command ? 0 : 2;
  }
  if (!['migrate', 'purge', 'backup', 'clients', 'keys', 'users', 'enrollments'].includes(command)) {
    out.error(`latchkey: unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      out.error(`latchkey: ${error.message}`);
      return 1;
    }
    throw error;
  }
  const db = openDatabase(config.database);
  try {
    if (command === 'migrate') {
      const applied = await migrateToLatest(db);
      out.print(applied.length > 0 ? `applied ${applied.join(', ')}` : 'the database is up to date');
      return 0;
    }
    // Every other command needs the schema this build knows.
    if (!(await migrationsAreCurrent(db))) {
      out.error('latchkey: the database has pending migrations: run `latchkey migrate` first');
      return 1;
    }
    switch (command) {
      case 'purge':
        return await purge(db, out);
      case 'backup':
        return await backupCommand(rest, { config, db, out });
      case 'clients':
        return await clientsCommand(rest, { config, db, out });
      case 'keys':
        return await keysCommand(rest, { config, db, out });
      case 'users':
        return await usersCommand(rest, { config, db, out });
      case 'enrollments':
        return await enrollmentsCommand(rest, { config, db, out });
      default:
        return 2; // unreachable: checked above
    }
  } catch (error) {
    if (error instanceof UsageError) {
      out.error(`latchkey: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  } finally {
    await db.destroy();
  }
}

async function purge(db: Db, out: Output): Promise<number> {
  const removed = await purgeExpired(db, Date.now());
  out.print(Object.entries(removed).map(([table, n]) => `${table}: ${n} expired rows deleted`).join('\n'));
  return 0;
}

/** The `latchkey` executable: runs the command in process.argv and exits with its code. */
export function main(): void {
  run(process.argv.slice(2), { print: (s) => console.log(s), error: (s) => console.error(s) }).then(
    (code) => {
      // Let stdout drain (it is asynchronous on pipes); exit anyway if something keeps the loop alive.
      process.exitCode = code;
      setTimeout(() => process.exit(code), 1000).unref();
    },
    (error: unknown) => {
      console.error('latchkey failed:', error);
      process.exit(1);
    },
  );
}
