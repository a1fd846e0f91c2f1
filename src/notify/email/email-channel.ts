import addressparser from 'nodemailer/lib/addressparser';
import type { Channel } from '../channel.ts';
import { createOrderEmail, messageIdOf } from './order-email.ts';
import type { Mailer } from './smtp-mailer.ts';
import { smtpAttemptResult } from './smtp-failure.ts';

export interface EmailChannelOptions {
  mailer: Mailer;
  /** MAIL_FROM: its domain ends every Message-ID. */
  from: string;
  currency: string;
  timeoutMs: number;
  retryScheduleMs: readonly number[];
}

/** The customer's e-mail: a receipt or an explanation, for every order with an outcome. */
export function createEmailChannel({ mailer, from, currency, timeoutMs, retryScheduleMs }: EmailChannelOptions): Channel {
  const domain = domainOf(from);
  const orderEmail = createOrderEmail({ domain, currency });
  return {
    name: 'email',
    appliesTo: () => true,
    address: (order) => ({ recipient: order.customerEmail, messageId: messageIdOf(order.id, order.outcome, domain) }),
    async send(order) {
      try {
        const { reply } = await mailer.send(orderEmail(order));
        return { kind: 'sent', reply };
      } catch (error) {
        return smtpAttemptResult(error);
      }
    },
    attemptTimeoutMs: timeoutMs,
    retryScheduleMs,
  };
}

/** `Order service <orders@example.com>` -> `example.com`. */
export function domainOf(from: string): string {
  const [first] = addressparser(from, { flatten: true });
  const address = first && 'address' in first ? first.address : undefined;
  const domain = address?.split('@')[1];
  if (!domain) throw new Error(`MAIL_FROM "${from}" has no address with a domain`);
  return domain;
}
