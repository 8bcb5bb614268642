import { randomUUID } from 'node:crypto';
import type { AccountRepository } from '../accounts.ts';
import { Enrollments, type EnrollmentMessages, type EnrollmentStore } from '../enrollment.ts';
import type { Events } from '../events.ts';
import type { Mailer } from '../mailer.ts';
import type { PasskeyCeremonies } from '../passkeys/ceremonies.ts';
import type { PasskeyRepository } from '../passkeys/types.ts';
import { UserManagement, type ManagedUserStore } from './users.ts';

/**
 * User management and enrollment links, wired once: the /api/v1 routes and the command-line
 * tool use the same services, so both validate, store and audit alike.
 */
export function managementServices(deps: {
  users: ManagedUserStore;
  enrollments: EnrollmentStore;
  accounts: AccountRepository;
  passkeys: PasskeyRepository;
  ceremonies: PasskeyCeremonies;
  mailer: Mailer;
  messages: EnrollmentMessages;
  linkUrl: (token: string) => string;
  clock: () => number;
  events: Events;
}): { users: UserManagement; enrollments: Enrollments } {
  return {
    users: new UserManagement({ store: deps.users, clock: deps.clock, newId: randomUUID, events: deps.events }),
    enrollments: new Enrollments({
      store: deps.enrollments,
      accounts: deps.accounts,
      passkeys: deps.passkeys,
      ceremonies: deps.ceremonies,
      mailer: deps.mailer,
      messages: deps.messages,
      linkUrl: deps.linkUrl,
      clock: deps.clock,
      newId: () => `enr_${randomUUID().replaceAll('-', '')}`,
      events: deps.events,
    }),
  };
}
