import type { EnrollmentMessages } from '../domain/enrollment.ts';

/** The invitation mailed with an enrollment link, when the API asks for it. */
export function createEnrollmentMessages(productName: string): EnrollmentMessages {
  return {
    enrollmentInvitation(to, invitedBy, url, expiresAt) {
      return {
        to,
        subject: `${invitedBy} invites you to create a passkey`,
        text: [
          `${invitedBy} invited you to create a passkey for your ${productName} account (${to}).`,
          'A passkey lets you sign in with your fingerprint, face or screen lock instead of a password.',
          '',
          `Open this link on the device you want to use: ${url}`,
          '',
          `The link works once, until ${expiresAt.toUTCString()}.`,
          'If you did not expect this, ignore this email: nothing changes until the link is used.',
        ].join('\n'),
      };
    },
  };
}
