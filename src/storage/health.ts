import type { Db } from './db.ts';
import { migrationsAreCurrent } from './migrate.ts';

export interface DatabaseHealth {
  readonly reachable: boolean;
  readonly migrationsCurrent: boolean;
}

/**
 * Whether the database answers and has every migration this build knows, within `timeoutMs`
 * (the pool would otherwise wait a minute for a connection to a dead server).
 */
export async function checkDatabase(db: Db, timeoutMs: number): Promise<DatabaseHealth> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('database check timed out')), timeoutMs);
  });
  try {
    await Promise.race([db.raw('select 1'), timeout]);
  } catch {
    clearTimeout(timer);
    return { reachable: false, migrationsCurrent: false };
  }
  try {
    return { reachable: true, migrationsCurrent: await Promise.race([migrationsAreCurrent(db), timeout]) };
  } catch {
    return { reachable: true, migrationsCurrent: false };
  } finally {
    clearTimeout(timer);
  }
}
