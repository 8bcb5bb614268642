import type { Context } from 'koa';
import type { AccountOverview, SignInMethod } from '../../domain/account/self-service.ts';
import { PASSKEY_NAME_MAX } from '../../domain/account/passkey-names.ts';
import { formatDateTime, formatMinutes, translate, type Locale, type MessageKey } from '../../i18n/index.ts';
import { describeScope } from '../interactions/consent.ts';

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

const METHOD_TEXT: Record<SignInMethod, MessageKey> = {
  passkey_device_bound: 'account.methodDeviceBound',
  passkey_synced: 'account.methodSynced',
  email_code: 'account.methodEmailCode',
  unknown: 'account.methodUnknown',
};

/** A time for people: UTC on the server; the page's script shows it in the browser's own time zone. */
export interface TimeView {
  readonly iso: string;
  readonly text: string;
}

function time(locale: Locale, ms: number | null | undefined): TimeView | undefined {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return undefined;
  const date = new Date(ms);
  return { iso: date.toISOString(), text: translate(locale, 'account.timeUtc', { time: formatDateTime(locale, date) }) };
}

const NOTICE_TEXT: Record<Notice, MessageKey> = {
  added: 'account.noticeAdded',
  renamed: 'account.noticeRenamed',
  removed: 'account.noticeRemoved',
  session_ended: 'account.noticeSessionEnded',
  revoked: 'account.noticeRevoked',
  reauthenticated: 'account.noticeReauthenticated',
};

function noticeText(locale: Locale, notice: Notice | undefined, reauthSeconds: number): string | undefined {
  return notice === undefined ? undefined : translate(locale, NOTICE_TEXT[notice], { duration: formatMinutes(locale, Math.round(reauthSeconds / 60)) });
}

/** Everything account.njk shows, already worded; the template only lays it out (and escapes it). */
export function accountPageView(
  overview: AccountOverview,
  options: { locale: Locale; csrfToken: string; rpId: string; reauthSeconds: number; flash?: Flash; error?: string },
): Record<string, unknown> {
  const { locale } = options;
  const { account, passkeys } = overview;
  const onlyOne = passkeys.length === 1;
  return {
    title: translate(locale, 'account.title'),
    csrfToken: options.csrfToken,
    email: account.email,
    error: options.error,
    notice: noticeText(locale, options.flash?.notice, options.reauthSeconds),
    fresh: overview.fresh,
    nameMax: PASSKEY_NAME_MAX,
    passkeys: passkeys.map((p, index) => ({
      index: index + 1,
      id: p.id,
      name: p.name,
      model: p.model,
      iconLight: p.iconLight,
      iconDark: p.iconDark ?? p.iconLight,
      kind: translate(locale, p.synced ? 'account.kindSynced' : 'account.kindDeviceBound'),
      kindHint: translate(locale, p.synced ? 'account.kindSyncedHint' : 'account.kindDeviceBoundHint'),
      created: time(locale, p.createdAt),
      lastUsed: time(locale, p.lastUsedAt),
      // With recovery off, the only passkey cannot go: the button is disabled and says why.
      removable: !onlyOne || overview.canRemoveLast,
      onlyOne,
    })),
    canRemoveLast: overview.canRemoveLast,
    sessions: overview.sessions.map((s) => ({
      uid: s.uid,
      current: s.current,
      method: translate(locale, METHOD_TEXT[s.method]),
      signedIn: time(locale, s.signedInAt),
      expires: time(locale, s.expiresAt),
      applications: s.applications,
    })),
    applications: overview.applications.map((a) => ({
      clientId: a.clientId,
      name: a.name,
      can: [...new Set(a.scopes.map((s) => describeScope(locale, s)))],
      since: time(locale, a.since),
    })),
    signals: {
      rpId: options.rpId,
      userId: account.userHandle,
      accepted: JSON.stringify(passkeys.map((p) => p.id)),
      removed: options.flash?.notice === 'removed' ? options.flash.removed : undefined,
    },
  };
}
