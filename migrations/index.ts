import type { Knex } from 'knex';
import * as core from './20261122000001_core.ts';
import * as rateLimits from './20261122000002_rate_limits.ts';
import * as managementApi from './20261122000003_management_api.ts';
import * as eventsWebhooks from './20261122000004_events_webhooks.ts';
import * as enrollmentLinks from './20261122000005_enrollment_links.ts';
import * as backchannelApprovals from './20261122000006_backchannel_approvals.ts';
import * as partialPayloadIndexes from './20261122000007_partial_payload_indexes.ts';
import * as sessionPasskeys from './20261122000008_session_passkeys.ts';

/**
 * Every migration in order. Listed here rather than read from the folder so the same list
 * works under tsx and in a compiled build. Append new ones; never edit one that has landed.
 */
export const migrations: ReadonlyArray<readonly [name: string, migration: Knex.Migration]> = [
  ['20261122000001_core', core],
  ['20261122000002_rate_limits', rateLimits],
  ['20261122000003_management_api', managementApi],
  ['20261122000004_events_webhooks', eventsWebhooks],
  ['20261122000005_enrollment_links', enrollmentLinks],
  ['20261122000006_backchannel_approvals', backchannelApprovals],
  ['20261122000007_partial_payload_indexes', partialPayloadIndexes],
  ['20261122000008_session_passkeys', sessionPasskeys],
];
