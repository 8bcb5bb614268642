import type { AccountMessages, PasskeyChange } from '../domain/account/types.ts';
import type { MailMessage } from '../domain/mailer.ts';
import type { RecoveryMessages } from '../domain/recovery.ts';
import type { SignupMessages } from '../domain/signup.ts';

/** The emails Latchkey sends, in plain text. */
export function createMessages(productName: string, issuer: string): SignupMessages & RecoveryMessages {
  return {
    recoveryCode(to: string, code: string, minutes: number): MailMessage {
      return {
        to,
        subject: `${code} is your ${productName} recovery code`,
        text: [
          `Your ${productName} recovery code is: ${code}`,
          '',
          `Enter it on the "Lost your passkey?" page to create a new passkey. It expires in ${minutes} minutes.`,
          '',
          'If you did not ask for this, ignore this email: nobody can use the code without access to your mailbox.',
        ].join('\n'),
      };
    },
    recoveryNoAccount(to: string): MailMessage {
      return {
        to,
        subject: `${productName} account recovery`,
        text: [
          `Someone (hopefully you) asked to recover a ${productName} account with this email address,`,
          'but there is no active account for it. To create one, choose "Create account" when you next sign in.',
          '',
          'If you did not ask for this, you can ignore this email.',
        ].join('\n'),
      };
    },
    recoveryCompleted(to: string): MailMessage {
      return {
        to,
        subject: `A new passkey was added to your ${productName} account`,
        text: [
          `Your ${productName} account was recovered with a code sent to this address, and a new passkey was added.`,
          '',
          `If this was not you, sign in at ${issuer} with one of your passkeys, remove the new passkey on your account page, and secure this mailbox.`,
        ].join('\n'),
      };
    },
    signupCode(to: string, code: string, minutes: number): MailMessage {
      return {
        to,
        subject: `${code} is your ${productName} code`,
        text: [
          `Your ${productName} code is: ${code}`,
          '',
          `Enter it on the sign-up page to confirm this email address. It expires in ${minutes} minutes.`,
          '',
          'If you did not try to create an account, you can ignore this email.',
        ].join('\n'),
      };
    },
    accountExists(to: string): MailMessage {
      return {
        to,
        subject: `You already have a ${productName} account`,
        text: [
          `Someone (hopefully you) tried to create a ${productName} account with this email address,`,
          'but you already have one. No new account was created.',
          '',
          `To sign in, choose "Sign in with a passkey" at ${issuer}.`,
          'If you did not try to sign up, you can ignore this email.',
        ].join('\n'),
      };
    },
  };
}

/** The mails about changes to a person's passkeys, so a change they did not make does not go unnoticed. */
export function createAccountMessages(productName: string, issuer: string): AccountMessages {
  const when = (at: number) => `${new Date(at).toISOString().replace('T', ' ').slice(0, 16)} UTC`;
  const describe = (change: PasskeyChange) =>
    change.name === change.model ? `"${change.name}"` : `"${change.name}" (${change.model})`;
  return {
    passkeyAdded(to: string, change: PasskeyChange): MailMessage {
      return {
        to,
        subject: `A passkey was added to your ${productName} account`,
        text: [
          `A new passkey, ${describe(change)}, was added to your ${productName} account on ${when(change.at)}.`,
          'It can now be used to sign in as you.',
          '',
          `If this was not you, sign in at ${issuer}/account, remove the passkey and sign out of the sessions you do not recognise.`,
        ].join('\n'),
      };
    },
    passkeyRemoved(to: string, change: PasskeyChange): MailMessage {
      return {
        to,
        subject: `A passkey was removed from your ${productName} account`,
        text: [
          `The passkey ${describe(change)} was removed from your ${productName} account on ${when(change.at)}.`,
          'It can no longer be used to sign in.',
          '',
          `If this was not you, sign in at ${issuer}/account, check your passkeys and sign out of the sessions you do not recognise.`,
        ].join('\n'),
      };
    },
  };
}
