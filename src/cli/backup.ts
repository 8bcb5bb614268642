import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Config } from '../config/env.ts';
import type { Db } from '../storage/db.ts';
import { parse, UsageError, type Output } from './output.ts';

/**
 * `latchkey backup FILE`: a consistent copy of a SQLite database, taken while Latchkey runs.
 * `VACUUM INTO` reads one snapshot (WAL keeps writers going meanwhile) and writes a compact
 * file that needs no -wal file beside it, so no sqlite3 shell is needed on the server.
 * PostgreSQL has pg_dump for this; the command says so instead of reinventing it.
 */
export async function backupCommand(args: string[], context: { config: Config; db: Db; out: Output }): Promise<number> {
  const { positionals } = parse(args, {});
  const [file, ...extra] = positionals;
  if (!file || extra.length > 0) throw new UsageError('backup needs exactly one FILE to write');
  const { config, db, out } = context;
  if (config.database.client !== 'sqlite') {
    out.error('latchkey: on PostgreSQL, back up with pg_dump: pg_dump -Fc -n <schema> <database> > latchkey.dump (README: Backup and restore)');
    return 1;
  }
  const target = resolve(file);
  if (existsSync(target)) {
    out.error(`latchkey: ${target} exists; a backup never overwrites a file`);
    return 1;
  }
  await db.raw('VACUUM INTO ?', [target]);
  out.print(`backed up ${config.database.filename} to ${target}`);
  return 0;
}
