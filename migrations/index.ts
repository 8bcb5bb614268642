import type { Knex } from 'knex';
import * as core from './20261122000001_core.ts';
import * as rateLimits from './20261122000002_rate_limits.ts';

/**
 * Every migration in order. Listed here rather than read from the folder so the same list
 * works under tsx and in a compiled build. Append new ones; never edit one that has landed.
 */
export const migrations: ReadonlyArray<readonly [name: string, migration: Knex.Migration]> = [
  ['20261122000001_core', core],
  ['20261122000002_rate_limits', rateLimits],
];
