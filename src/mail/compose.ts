import { formatDateTime, formatMinutes, translate, type Locale, type MessageKey, type MessageParams } from '../i18n/index.ts';
import { negotiateLocale } from '../i18n/negotiate.ts';
import type { MailMessage } from '../domain/mailer.ts';

/** What every mail shares: who sends it and where people get help. */
export interface MailBranding {
  readonly productName: string;
  readonly issuer: string;
  /** https: or mailto: URL of the operator's help page (LATCHKEY_SUPPORT_URL); unset: no support line. */
  readonly supportUrl?: string | undefined;
  /** The language of mails whose trigger named none, or one Latchkey does not speak. */
  readonly defaultLocale: Locale;
}

/** Writes the mails of one language, each ending with the same signature and support line. */
export class MailWriter {
  readonly locale: Locale;

  constructor(
    private readonly branding: MailBranding,
    tags: string | undefined,
  ) {
    // A tag or a ui_locales list: the first language Latchkey speaks, else the default.
    this.locale = negotiateLocale({ uiLocales: tags, fallback: branding.defaultLocale });
  }

  text(key: MessageKey, params: MessageParams = {}): string {
    return translate(this.locale, key, { product: this.branding.productName, issuer: this.branding.issuer, ...params });
  }

  /** A time in the mail's language, in UTC (a mail cannot know the reader's zone). */
  time(at: number | Date): string {
    return `${formatDateTime(this.locale, at)} UTC`;
  }

  /** A number of minutes in the mail's language, plural included. */
  minutes(count: number): string {
    return formatMinutes(this.locale, count);
  }

  /** A mail: subject and paragraphs, then the shared footer. */
  mail(to: string, subject: MessageKey, paragraphs: readonly string[], params: MessageParams = {}): MailMessage {
    const footer = [this.text('mail.signature'), ...(this.branding.supportUrl ? [this.text('mail.support', { support: supportAddress(this.branding.supportUrl) })] : [])];
    return { to, subject: this.text(subject, params), text: [...paragraphs, '', footer.join('\n')].join('\n') };
  }
}

/** A mailto: link reads as its address in a plain-text mail. */
function supportAddress(url: string): string {
  return url.startsWith('mailto:') ? url.slice('mailto:'.length) : url;
}
