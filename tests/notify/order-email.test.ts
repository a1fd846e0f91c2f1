import { describe, expect, it } from 'bun:test';
import { domainOf } from '../../src/notify/email/email-channel.ts';
import { declineInWords } from '../../src/notify/email/decline-reasons.ts';
import { createOrderEmail, messageIdOf } from '../../src/notify/email/order-email.ts';
import type { OrderFacts } from '../../src/notify/order-facts.ts';
import { orderPaidWebhook, webhookIdOf } from '../../src/notify/webhook/order-paid-webhook.ts';

const ID = '0193a5c4-7f7e-7c43-9b1e-5a9d2f4c1e11';
const order = (overrides: Partial<OrderFacts> = {}): OrderFacts => ({
  id: ID,
  customerEmail: 'ada@example.com',
  totalCents: 2875,
  createdAt: new Date('2026-11-25T12:00:00Z'),
  outcome: 'succeeded',
  failureReason: null,
  decidedAt: new Date('2026-11-25T12:00:02Z'),
  items: [
    { menuItemId: 1, name: 'Margherita Pizza', quantity: 2, unitPriceCents: 1250 },
    { menuItemId: 12, name: 'Sparkling Lemonade', quantity: 1, unitPriceCents: 375 },
  ],
  delivery: null,
  ...overrides,
});
const orderEmail = createOrderEmail({ domain: 'example.com', currency: 'usd' });

describe('the receipt', () => {
  const mail = orderEmail(order());

  it('goes to the customer, names the order in its subject, under a Message-ID from the order and the outcome', () => {
    expect(mail.to).toBe('ada@example.com');
    expect(mail.subject).toBe(`Receipt for your order ${ID}`);
    expect(mail.messageId).toBe(`<${ID}.receipt@example.com>`);
    // Every copy of it is the same message.
    expect(orderEmail(order())).toEqual(mail);
  });

  it('lists every line with its quantity and amount, the total and the order id, in the text and the HTML alike', () => {
    expect(mail.text).toContain('2 x Margherita Pizza    $25.00\n1 x Sparkling Lemonade  $3.75\nTotal paid              $28.75');
    expect(mail.text).toContain(ID);
    for (const part of ['2 &times; Margherita Pizza', '$25.00', '1 &times; Sparkling Lemonade', '$3.75', 'Total paid', '$28.75', ID]) expect(mail.html).toContain(part);
  });

  it('escapes what came from outside in the HTML, and keeps it as written in the text', () => {
    const tricky = orderEmail(order({ items: [{ menuItemId: 7, name: `<img src=x onerror="alert('x')"> & Co`, quantity: 1, unitPriceCents: 100 }] }));
    expect(tricky.html).toContain('&lt;img src=x onerror=&quot;alert(&#x27;x&#x27;)&quot;&gt; &amp; Co');
    expect(tricky.html).not.toContain('<img');
    expect(tricky.text).toContain(`1 x <img src=x onerror="alert('x')"> & Co`);
  });
});

describe('the explanation of a failed payment', () => {
  const mail = orderEmail(order({ outcome: 'failed', failureReason: 'expired_card' }));

  it('says why in plain words and what to do, under its own Message-ID', () => {
    expect(mail.subject).toBe(`Payment failed for your order ${ID}`);
    expect(mail.messageId).toBe(`<${ID}.payment-failed@example.com>`);
    expect(mail.messageId).not.toBe(messageIdOf(ID, 'succeeded', 'example.com'));
    expect(mail.text).toContain('the card has expired');
    expect(mail.text).toContain('You have not been charged');
    expect(mail.text).toContain('What to do: place the order again with another card');
    expect(mail.text).toContain('Total (not charged)');
    expect(mail.text).not.toContain('expired_card');
    expect(mail.html).toContain('the card has expired');
  });

  it('has words for every decline it may meet, and a general sentence for the rest', () => {
    expect(declineInWords('insufficient_funds')).toBe('the card does not have enough funds');
    expect(declineInWords('some_new_code')).toBe('the payment was declined');
    expect(declineInWords(null)).toBe('the payment was declined');
  });
});

describe('MAIL_FROM', () => {
  it('gives the Message-ID its domain, with or without a name', () => {
    expect(domainOf('Order service <orders@example.com>')).toBe('example.com');
    expect(domainOf('"Pizza, Place" <orders@pizza.example>')).toBe('pizza.example');
    expect(domainOf('orders@shop.example')).toBe('shop.example');
    expect(() => domainOf('Order service')).toThrow('MAIL_FROM');
  });
});

describe("the restaurant's webhook payload", () => {
  it('carries the order as the kitchen needs it, the same on every attempt, and nothing of the card or the customer', () => {
    const payload = orderPaidWebhook(order(), 'usd');
    expect(webhookIdOf(ID)).toBe(`msg_${ID}_order.paid`);
    expect(payload).toEqual({
      type: 'order.paid',
      timestamp: '2026-11-25T12:00:02.000Z',
      data: {
        id: ID,
        items: [
          { menuItemId: 1, name: 'Margherita Pizza', quantity: 2, unitPriceCents: 1250, lineTotalCents: 2500 },
          { menuItemId: 12, name: 'Sparkling Lemonade', quantity: 1, unitPriceCents: 375, lineTotalCents: 375 },
        ],
        totalCents: 2875,
        currency: 'usd',
        createdAt: '2026-11-25T12:00:00.000Z',
        paidAt: '2026-11-25T12:00:02.000Z',
      },
    });
    expect(JSON.stringify(payload)).not.toContain('ada@example.com');
  });
});
