import nodemailer from 'nodemailer';
import type { OrderEmail } from './order-email.ts';

/** The e-mail port: hands one message to the mail server; resolves with its reply once it said 250. */
export interface Mailer {
  send(mail: OrderEmail): Promise<{ reply: string }>;
  /** Closes the pooled connections (a delivery under way finishes first). */
  close(): void;
}

export interface SmtpSettings {
  /** SMTP_URL: smtp:// (STARTTLS when the server offers it) or smtps://, with user and password if any. */
  url: string;
  /** MAIL_FROM, also the envelope sender. */
  from: string;
  /** The deadline of one message, queueing in the pool included, and of each wait for the server. */
  timeoutMs: number;
}

/**
 * The SMTP adapter, on nodemailer: a small pool of connections kept open between messages, as a mail
 * relay expects from a busy client. Each send has a deadline (an AbortSignal nodemailer honours by
 * dropping that message's connection), so one attempt never outlives the lease it holds on its delivery.
 */
export function createSmtpMailer({ url, from, timeoutMs }: SmtpSettings): Mailer {
  const transport = nodemailer.createTransport({
    url,
    pool: true,
    // 10, not nodemailer's 5: most relays take 10 from one client. More would cost a little less CPU per
    // message against the bench's sink (about 0.1 ms with 20), but a relay's limit per client comes first.
    maxConnections: 10,
    // 1,000 messages a connection, not nodemailer's 100: each new one is a TCP handshake, a greeting and an
    // EHLO on both sides, and the pool drops the old one with an error it builds; measured 0.05-0.2 ms per
    // message (bench/README.md). A connection is still replaced now and then, so relays behind a balancer share the load.
    maxMessages: 1000,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  });
  return {
    async send(mail) {
      const info = await transport.sendMail({
        from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        messageId: mail.messageId,
        // RFC 3834: written by a program, so auto-responders (out of office) stay quiet.
        headers: { 'Auto-Submitted': 'auto-generated' },
        signal: AbortSignal.timeout(timeoutMs),
      });
      return { reply: info.response };
    },
    close: () => transport.close(),
  };
}
