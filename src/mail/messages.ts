import type { MailMessage } from '../domain/mailer.ts';
import type { SignupMessages } from '../domain/signup.ts';

/** The emails Latchkey sends, in plain text. */
export function createMessages(productName: string, issuer: string): SignupMessages {
  return {
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
