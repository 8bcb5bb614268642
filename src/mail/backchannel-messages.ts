import type { BackchannelMessages } from '../domain/backchannel.ts';

/** The mail that reaches a person when an application asks them to approve something. */
export function createBackchannelMessages(productName: string): BackchannelMessages {
  return {
    approvalRequest(to, clientName, bindingMessage, url) {
      return {
        to,
        subject: `${clientName} asks you to approve a request`,
        text: [
          `${clientName} asks you to approve a request with your ${productName} passkey.`,
          ...(bindingMessage ? ['', `It says: "${bindingMessage}". Check that the application shows the same words.`] : []),
          '',
          `Review it and approve or deny: ${url}`,
          '',
          'If you did not start this, deny it.',
        ].join('\n'),
      };
    },
  };
}
