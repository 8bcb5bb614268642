import type { BackchannelMessages } from '../domain/backchannel.ts';
import { MailWriter, type MailBranding } from './compose.ts';

/** The mail that reaches a person when an application asks them to approve something. */
export function createBackchannelMessages(branding: MailBranding): BackchannelMessages {
  return {
    approvalRequest(to, clientName, bindingMessage, url, locale) {
      const w = new MailWriter(branding, locale);
      return w.mail(
        to,
        'mail.approval.subject',
        [
          w.text('mail.approval.body', { client: clientName }),
          ...(bindingMessage ? ['', w.text('mail.approval.binding', { message: bindingMessage })] : []),
          '',
          w.text('mail.approval.link', { url }),
        ],
        { client: clientName },
      );
    },
  };
}
