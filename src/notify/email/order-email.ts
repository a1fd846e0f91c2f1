import type { OrderFacts } from '../order-facts.ts';
import { declineInWords } from './decline-reasons.ts';
import { moneyFormat } from './money.ts';

/** One e-mail about an order's outcome, ready for the mailer. */
export interface OrderEmail {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** The same for every attempt and every copy: `<order id>.<receipt|payment-failed>@<the From domain>`. */
  messageId: string;
}

/** The words of an e-mail, written once; the text and the HTML are both rendered from them. */
interface Content {
  subject: string;
  heading: string;
  paragraphs: string[];
  lines: { quantity: number; name: string; amount: string }[];
  totalLabel: string;
  total: string;
  footer: string;
}

/** The Message-ID of an order's outcome e-mail: a copy (a retry, a duplicate) is recognisable as the same message. */
export function messageIdOf(orderId: string, outcome: OrderFacts['outcome'], domain: string): string {
  return `<${orderId}.${outcome === 'succeeded' ? 'receipt' : 'payment-failed'}@${domain}>`;
}

type Money = (cents: number) => string;

/**
 * The writer of a channel's e-mails, its money format built once: a receipt for a paid order, or an
 * explanation of a failed payment, pure, from the order's facts.
 */
export function createOrderEmail({ domain, currency }: { domain: string; currency: string }): (order: OrderFacts) => OrderEmail {
  const money = moneyFormat(currency);
  return (order) => {
    const content = order.outcome === 'succeeded' ? receipt(order, money) : paymentFailed(order, money);
    return { to: order.customerEmail, subject: content.subject, text: toText(content), html: toHtml(content), messageId: messageIdOf(order.id, order.outcome, domain) };
  };
}

function linesOf(order: OrderFacts, money: Money): Content['lines'] {
  return order.items.map((item) => ({ quantity: item.quantity, name: item.name, amount: money(item.unitPriceCents * item.quantity) }));
}

const when = (date: Date) => `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

function receipt(order: OrderFacts, money: Money): Content {
  const total = money(order.totalCents);
  return {
    subject: `Receipt for your order ${order.id}`,
    heading: 'Thank you: your order is paid',
    paragraphs: [`We received your payment of ${total} for order ${order.id}, and the kitchen has it. This is your receipt.`],
    lines: linesOf(order, money),
    totalLabel: 'Total paid',
    total,
    footer: `Order ${order.id}, placed ${when(order.createdAt)}, paid ${when(order.decidedAt)}.`,
  };
}

function paymentFailed(order: OrderFacts, money: Money): Content {
  return {
    subject: `Payment failed for your order ${order.id}`,
    heading: 'Your payment did not go through',
    paragraphs: [
      `We could not take the payment for order ${order.id}: ${declineInWords(order.failureReason)}.`,
      'You have not been charged, and the order will not be prepared.',
      'What to do: place the order again with another card, or ask your bank why it refused the payment.',
    ],
    lines: linesOf(order, money),
    totalLabel: 'Total (not charged)',
    total: money(order.totalCents),
    footer: `Order ${order.id}, placed ${when(order.createdAt)}.`,
  };
}

function toText(content: Content): string {
  const width = Math.max(...content.lines.map((line) => `${line.quantity} x ${line.name}`.length), content.totalLabel.length);
  return [
    content.heading,
    '',
    ...content.paragraphs.flatMap((paragraph) => [paragraph, '']),
    ...content.lines.map((line) => `${`${line.quantity} x ${line.name}`.padEnd(width)}  ${line.amount}`),
    `${content.totalLabel.padEnd(width)}  ${content.total}`,
    '',
    content.footer,
    '',
  ].join('\n');
}

// Every text that goes into the HTML is escaped here: menu names and decline codes come from outside.
const html = (text: string | number) => Bun.escapeHTML(String(text));

function toHtml(content: Content): string {
  const rows = content.lines.map((line) => `<tr><td>${html(line.quantity)} &times; ${html(line.name)}</td><td align="right">${html(line.amount)}</td></tr>`);
  return [
    '<!doctype html>',
    `<html><head><meta charset="utf-8"><title>${html(content.subject)}</title></head>`,
    '<body style="font-family: system-ui, sans-serif; color: #1d2330">',
    `<h1 style="font-size: 20px">${html(content.heading)}</h1>`,
    ...content.paragraphs.map((paragraph) => `<p>${html(paragraph)}</p>`),
    '<table cellpadding="4" style="border-collapse: collapse">',
    ...rows,
    `<tr><th align="left">${html(content.totalLabel)}</th><th align="right">${html(content.total)}</th></tr>`,
    '</table>',
    `<p style="color: #6b7588; font-size: 13px">${html(content.footer)}</p>`,
    '</body></html>',
    '',
  ].join('\n');
}
