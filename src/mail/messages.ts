import type { AccountMessages, PasskeyChange } from '../domain/account/types.ts';
import type { RecoveryMessages } from '../domain/recovery.ts';
import type { SignupMessages } from '../domain/signup.ts';
import { MailWriter, type MailBranding } from './compose.ts';

/** The sign-up and recovery mails, in plain text, in the language of the page that asked for them. */
export function createMessages(branding: MailBranding): SignupMessages & RecoveryMessages {
  const writer = (locale: string | undefined) => new MailWriter(branding, locale);
  return {
    recoveryCode(to, code, minutes, locale) {
      const w = writer(locale);
      return w.mail(to, 'mail.recoveryCode.subject', [w.text('mail.recoveryCode.body', { code, duration: w.minutes(minutes) })], { code });
    },
    recoveryNoAccount(to, locale) {
      const w = writer(locale);
      return w.mail(to, 'mail.recoveryNoAccount.subject', [w.text('mail.recoveryNoAccount.body')]);
    },
    recoveryCompleted(to, locale) {
      const w = writer(locale);
      return w.mail(to, 'mail.recoveryCompleted.subject', [w.text('mail.recoveryCompleted.body')]);
    },
    signupCode(to, code, minutes, locale) {
      const w = writer(locale);
      return w.mail(to, 'mail.signupCode.subject', [w.text('mail.signupCode.body', { code, duration: w.minutes(minutes) })], { code });
    },
    accountExists(to, locale) {
      const w = writer(locale);
      return w.mail(to, 'mail.accountExists.subject', [w.text('mail.accountExists.body')]);
    },
  };
}

/** The mails about changes to a person's passkeys, so a change they did not make does not go unnoticed. */
export function createAccountMessages(branding: MailBranding): AccountMessages {
  const describe = (change: PasskeyChange) => (change.name === change.model ? `"${change.name}"` : `"${change.name}" (${change.model})`);
  const accountUrl = `${branding.issuer}/account`;
  return {
    passkeyAdded(to, change, locale) {
      const w = new MailWriter(branding, locale);
      return w.mail(to, 'mail.passkeyAdded.subject', [w.text('mail.passkeyAdded.body', { passkey: describe(change), when: w.time(change.at), accountUrl })]);
    },
    passkeyRemoved(to, change, locale) {
      const w = new MailWriter(branding, locale);
      return w.mail(to, 'mail.passkeyRemoved.subject', [w.text('mail.passkeyRemoved.body', { passkey: describe(change), when: w.time(change.at), accountUrl })]);
    },
  };
}
