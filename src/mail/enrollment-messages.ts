import type { EnrollmentMessages } from '../domain/enrollment.ts';
import { MailWriter, type MailBranding } from './compose.ts';

/** The invitation mailed with an enrollment link, when the API asks for it (in the language it names). */
export function createEnrollmentMessages(branding: MailBranding): EnrollmentMessages {
  return {
    enrollmentInvitation(to, invitedBy, url, expiresAt, locale) {
      const w = new MailWriter(branding, locale);
      return w.mail(to, 'mail.enrollment.subject', [w.text('mail.enrollment.body', { invitedBy, email: to, url, expires: w.time(expiresAt) })], { invitedBy });
    },
  };
}
