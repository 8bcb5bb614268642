import { randomUUID } from 'node:crypto';
import type { Config } from '../config/env.ts';
import { AuditLog } from '../domain/events.ts';
import { DomainError } from '../domain/errors.ts';
import { statusOf } from '../domain/enrollment.ts';
import { managementServices } from '../domain/management/services.ts';
import { CLI_CALLER, type ManagedUser } from '../domain/management/users.ts';
import { PasskeyCeremonies } from '../domain/passkeys/ceremonies.ts';
import { ENROLL_PATH } from '../http/enroll/router.ts';
import { createEnrollmentMessages } from '../mail/enrollment-messages.ts';
import { SmtpMailer } from '../mail/mailer.ts';
import type { Db } from '../storage/db.ts';
import { KnexAccountRepository } from '../storage/repositories/accounts.ts';
import { KnexChallengeRepository } from '../storage/repositories/challenges.ts';
import { KnexEnrollmentStore } from '../storage/repositories/enrollments.ts';
import { KnexEventStore } from '../storage/repositories/events.ts';
import { KnexManagedUserStore } from '../storage/repositories/managed-users.ts';
import { KnexPasskeyRepository } from '../storage/repositories/passkeys.ts';
import { parse, UsageError, type Output } from './output.ts';

interface Deps {
  readonly config: Config;
  readonly db: Db;
  readonly out: Output;
}

/** The services behind /api/v1/users and /api/v1/enrollment-links, on the CLI's database connection. */
function services({ config, db, out }: Deps) {
  const clock = () => Date.now();
  const passkeys = new KnexPasskeyRepository(db);
  const events = new AuditLog({
    store: new KnexEventStore(db),
    clock,
    newId: () => `evt_${randomUUID().replaceAll('-', '')}`,
    reportFailure: (error, event) => out.error(`latchkey: could not record the ${event.type} event: ${(error as Error).message}`),
  });
  return managementServices({
    users: new KnexManagedUserStore(db),
    enrollments: new KnexEnrollmentStore(db),
    accounts: new KnexAccountRepository(db),
    passkeys,
    ceremonies: new PasskeyCeremonies(
      { id: config.rpId, name: config.rpName, origins: config.origins, challengeTtl: config.challengeTtl },
      new KnexChallengeRepository(db),
      passkeys,
      clock,
    ),
    // Only `enrollments create --email` sends mail, and it needs SMTP_URL (checked there).
    mailer: config.smtpUrl ? new SmtpMailer(config.smtpUrl, config.mailFrom) : { send: async () => undefined },
    messages: createEnrollmentMessages({ productName: config.rpName, issuer: config.issuer, defaultLocale: config.defaultLocale }),
    linkUrl: (token) => `${config.issuer}${ENROLL_PATH}/${token}`,
    clock,
    events,
  });
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function userJson(u: ManagedUser): Record<string, unknown> {
  return { id: u.id, email: u.email, email_verified: u.emailVerified, name: u.name, external_id: u.externalId, status: u.status, created_at: iso(u.createdAt) };
}

/** Refusals of the domain (no such user, email taken, …): exit 1 with the domain's sentence. */
async function refusing(out: Output, action: () => Promise<number>): Promise<number> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof DomainError) {
      out.error(`latchkey: ${error.message} (${error.code})`);
      return 1;
    }
    throw error;
  }
}

function oneId(positionals: string[], what: string): string {
  const [id] = positionals;
  if (!id || positionals.length > 1) throw new UsageError(`${what} needs one ID`);
  return id;
}

/** `latchkey users add|list|disable|enable|delete`: the management API's user operations, audited as `cli`. */
export async function usersCommand(args: string[], deps: Deps): Promise<number> {
  const [sub, ...rest] = args;
  const { out } = deps;
  const { users } = services(deps);
  return refusing(out, async () => {
    switch (sub) {
      case 'add': {
        const { values, positionals } = parse(rest, { 'external-id': { type: 'string' } });
        const [email] = positionals;
        if (!email || positionals.length > 1) throw new UsageError('users add needs one EMAIL');
        const user = await users.create(CLI_CALLER, { email, ...(values['external-id'] !== undefined ? { external_id: values['external-id'] } : {}) });
        out.print(JSON.stringify(userJson(user), null, 2));
        return 0;
      }
      case 'list': {
        const { values } = parse(rest, { email: { type: 'string' }, json: { type: 'boolean' } });
        const all: ManagedUser[] = [];
        let cursor: string | undefined;
        do {
          const page = await users.list({ limit: '200', ...(cursor ? { cursor } : {}), ...(values.email !== undefined ? { email: values.email } : {}) });
          all.push(...page.items);
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
        if (values.json) out.print(JSON.stringify(all.map(userJson), null, 2));
        else if (all.length === 0) out.print('no users');
        else for (const u of all) out.print(`${u.id}  ${u.status.padEnd(8)}  ${u.email}${u.externalId ? `  ${u.externalId}` : ''}`);
        return 0;
      }
      case 'disable':
      case 'enable': {
        const id = oneId(parse(rest, {}).positionals, `users ${sub}`);
        const user = await users.setStatus(CLI_CALLER, id, sub === 'disable' ? 'disabled' : 'active');
        out.print(sub === 'disable' ? `disabled ${user.id}: its sessions ended and its tokens stopped working` : `enabled ${user.id}`);
        return 0;
      }
      case 'delete': {
        const id = oneId(parse(rest, {}).positionals, 'users delete');
        await users.delete(CLI_CALLER, id);
        out.print(`deleted ${id} with its passkeys, enrollment links, sessions, grants and tokens`);
        return 0;
      }
      default:
        throw new UsageError(sub ? `unknown users command "${sub}"` : 'users needs a command: add, list, disable, enable or delete');
    }
  });
}

/** `latchkey enrollments create|revoke`: enrollment links, as the management API makes them, audited as `cli`. */
export async function enrollmentsCommand(args: string[], deps: Deps): Promise<number> {
  const [sub, ...rest] = args;
  const { config, out } = deps;
  const { enrollments } = services(deps);
  return refusing(out, async () => {
    switch (sub) {
      case 'create': {
        const { values, positionals } = parse(rest, { 'expires-in': { type: 'string' }, email: { type: 'boolean' } });
        const userId = oneId(positionals, 'enrollments create');
        if (values['expires-in'] !== undefined && !/^\d{1,9}$/.test(values['expires-in'])) throw new UsageError('--expires-in must be a number of seconds');
        if (values.email && !config.smtpUrl) {
          out.error('latchkey: --email needs SMTP_URL; without it, send the printed URL yourself');
          return 1;
        }
        const { link, url } = await enrollments.create({ ...CLI_CALLER, clientName: config.rpName }, userId, {
          ...(values['expires-in'] !== undefined ? { expires_in: Number(values['expires-in']) } : {}),
          ...(values.email ? { send_email: true } : {}),
        });
        out.print(JSON.stringify({ id: link.id, user_id: link.accountId, status: statusOf(link, Date.now()), expires_at: iso(link.expiresAt), url }, null, 2));
        out.error(values.email ? 'Emailed the link to the user. The URL is shown only this once.' : 'Send the URL to the user now: it is shown only this once.');
        return 0;
      }
      case 'revoke': {
        const id = oneId(parse(rest, {}).positionals, 'enrollments revoke');
        const link = await enrollments.revoke(CLI_CALLER, id);
        out.print(`revoked ${link.id}: its URL no longer works`);
        return 0;
      }
      default:
        throw new UsageError(sub ? `unknown enrollments command "${sub}"` : 'enrollments needs a command: create or revoke');
    }
  });
}
