import nodemailer, { type Transporter } from 'nodemailer';
import type { Mailer, MailMessage } from '../domain/mailer.ts';
import type { Logger } from '../logging.ts';

/** Sends mail over SMTP with nodemailer (pooled connections, TLS as the URL says). */
export class SmtpMailer implements Mailer {
  private readonly transport: Transporter;

  constructor(
    smtpUrl: string,
    private readonly from: string,
  ) {
    this.transport = nodemailer.createTransport(smtpUrl);
  }

  async send(message: MailMessage): Promise<void> {
    await this.transport.sendMail({ from: this.from, to: message.to, subject: message.subject, text: message.text });
  }
}

/**
 * Without SMTP_URL mail is written to the log, for local runs. Codes then appear in the log:
 * never run a public deployment this way (Latchkey warns at start).
 */
export class LogMailer implements Mailer {
  constructor(private readonly logger: Logger) {}

  async send(message: MailMessage): Promise<void> {
    this.logger.info({ mail: { to: message.to, subject: message.subject } }, `mail (SMTP_URL unset):\n${message.text}`);
  }
}
