/** An email to one person. */
export interface MailMessage {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
}

/** Delivers mail; implemented over SMTP or the log in src/mail. */
export interface Mailer {
  send(message: MailMessage): Promise<void>;
}
