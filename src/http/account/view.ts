import type { Context } from 'koa';
import type { AccountOverview, SignInMethod } from '../../domain/account/self-service.ts';
import { PASSKEY_NAME_MAX } from '../../domain/account/passkey-names.ts';

const FLASH_COOKIE = 'latchkey.account.flash';

/** What the page says after a change, carried across the redirect in a signed cookie. */
export type Notice = 'added' | 'renamed' | 'removed' | 'session_ended' | 'revoked' | 'reauthenticated';

export interface Flash {
  readonly notice: Notice;
  /** The credential just removed, for the Signal API (signalUnknownCredential). */
  readonly removed?: string;
}

const NOTICES: readonly Notice[] = ['added', 'renamed', 'removed', 'session_ended', 'revoked', 'reauthenticated'];

/**
 * The flash is signed, so a link cannot make the page tell the browser's password manager to
 * drop a passkey that was never removed.
 */
export function setFlash(ctx: Context, flash: Flash, secure: boolean): void {
  ctx.cookies.set(FLASH_COOKIE, Buffer.from(JSON.stringify(flash)).toString('base64url'), {
    signed: true,
    httpOnly: true,
    sameSite: 'lax',
    secure,
    path: '/account',
    maxAge: 60_000,
    overwrite: true,
  });
}

/** Reads the flash once and clears it. */
export function takeFlash(ctx: Context): Flash | undefined {
  const raw = ctx.cookies.get(FLASH_COOKIE, { signed: true });
  if (raw === undefined) return undefined;
  ctx.cookies.set(FLASH_COOKIE, null, { path: '/account', overwrite: true });
  try {
    const parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<Flash>;
    if (!NOTICES.includes(parsed.notice as Notice)) return undefined;
    return { notice: parsed.notice as Notice, ...(typeof parsed.removed === 'string' ? { removed: parsed.removed } : {}) };
  } catch {
    return undefined;
  }
}

/** Plain-language descriptions of what an application can get. */
const SCOPE_TEXT: Record<string, string> = {
  openid: 'Know who you are when you sign in',
  email: 'See your email address',
  profile: 'See your name',
  offline_access: 'Stay signed in when you are not using it',
};

const METHOD_TEXT: Record<SignInMethod, string> = {
  passkey_device_bound: 'a device-bound passkey',
  passkey_synced: 'a synced passkey',
  email_code: 'a code sent by email',
  unknown: 'an earlier sign-in',
};

/** A time for people: UTC on the server; the page's script shows it in the browser's own time zone. */
export interface TimeView {
  readonly iso: string;
  readonly text: string;
}

const UTC = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' });

function time(ms: number | null | undefined): TimeView | undefined {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return undefined;
  const date = new Date(ms);
  return { iso: date.toISOString(), text: `${UTC.format(date)} UTC` };
}

function noticeText(notice: Notice | undefined, reauthSeconds: number): string | undefined {
  switch (notice) {
    case 'added':
      return 'Passkey added. We sent you an email about it.';
    case 'renamed':
      return 'Passkey renamed.';
    case 'removed':
      return 'Passkey removed. We sent you an email about it.';
    case 'session_ended':
      return 'That session is signed out.';
    case 'revoked':
      return 'Access revoked. The application has to ask you again before it can sign you in.';
    case 'reauthenticated':
      return `Thanks for confirming it’s you. You can add or remove passkeys for the next ${Math.round(reauthSeconds / 60)} minutes.`;
    default:
      return undefined;
  }
}

/** Everything account.njk shows, already worded; the template only lays it out (and escapes it). */
export function accountPageView(
  overview: AccountOverview,
  options: { csrfToken: string; rpId: string; reauthSeconds: number; flash?: Flash; error?: string },
): Record<string, unknown> {
  const { account, passkeys } = overview;
  const onlyOne = passkeys.length === 1;
  return {
    title: 'Your account',
    csrfToken: options.csrfToken,
    email: account.email,
    error: options.error,
    notice: noticeText(options.flash?.notice, options.reauthSeconds),
    fresh: overview.fresh,
    nameMax: PASSKEY_NAME_MAX,
    passkeys: passkeys.map((p, index) => ({
      index: index + 1,
      id: p.id,
      name: p.name,
      model: p.model,
      iconLight: p.iconLight,
      iconDark: p.iconDark ?? p.iconLight,
      kind: p.synced ? 'Synced' : 'Device-bound',
      kindHint: p.synced ? 'Can be used on your other devices through your password manager' : 'Stays on one device or security key',
      created: time(p.createdAt),
      lastUsed: time(p.lastUsedAt),
      // With recovery off, the only passkey cannot go: the button is disabled and says why.
      removable: !onlyOne || overview.canRemoveLast,
      onlyOne,
    })),
    canRemoveLast: overview.canRemoveLast,
    sessions: overview.sessions.map((s) => ({
      uid: s.uid,
      current: s.current,
      method: METHOD_TEXT[s.method],
      signedIn: time(s.signedInAt),
      expires: time(s.expiresAt),
      applications: s.applications,
    })),
    applications: overview.applications.map((a) => ({
      clientId: a.clientId,
      name: a.name,
      can: [...new Set(a.scopes.map((s) => SCOPE_TEXT[s] ?? `Use the "${s}" permission`))],
      since: time(a.since),
    })),
    signals: {
      rpId: options.rpId,
      userId: account.userHandle,
      accepted: JSON.stringify(passkeys.map((p) => p.id)),
      removed: options.flash?.notice === 'removed' ? options.flash.removed : undefined,
    },
  };
}
