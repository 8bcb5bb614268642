import { randomUUID } from 'node:crypto';
import { Enrollments, type EnrollmentsDeps, type EnrollmentStore } from '../enrollment.ts';
import type { Events } from '../events.ts';
import { UserManagement, type ManagedUserStore } from './users.ts';

/**
 * User management and enrollment links, wired once: the /api/v1 routes and the command-line
 * tool use the same services, so both validate, store and audit alike.
 */
export function managementServices(
  deps: Omit<EnrollmentsDeps, 'store' | 'newId' | 'events'> & { users: ManagedUserStore; enrollments: EnrollmentStore; events: Events },
): { users: UserManagement; enrollments: Enrollments } {
  const { users, enrollments, ...enrollmentDeps } = deps;
  return {
    users: new UserManagement({ store: users, clock: deps.clock, newId: randomUUID, events: deps.events }),
    enrollments: new Enrollments({ ...enrollmentDeps, store: enrollments, newId: () => `enr_${randomUUID().replaceAll('-', '')}` }),
  };
}
