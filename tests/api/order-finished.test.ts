import { describe, expect, it } from 'bun:test';
import type { OrderView } from '../../src/api/models/order.ts';
import { channelsTold, isOrderFinished } from '../../src/api/services/order-finished.ts';

type Delivery = OrderView['deliveries'][number];

const payment = (outcome: 'succeeded' | 'failed'): OrderView['payment'] => ({
  outcome,
  attempts: 1,
  chargeId: outcome === 'succeeded' ? 'ch_1' : null,
  failureReason: outcome === 'failed' ? 'card_declined' : null,
  processedAt: '2026-11-25T12:00:01.000Z',
});
const delivery = (channel: Delivery['channel'], status: Delivery['status']): Delivery => ({
  channel,
  status,
  attempts: 1,
  lastError: status === 'failed' ? '550 5.1.1 no such user' : null,
  sentAt: status === 'sent' ? '2026-11-25T12:00:02.000Z' : null,
});
const order = (p: OrderView['payment'], deliveries: Delivery[] = []) => ({ payment: p, deliveries });

const noWebhook = { restaurantWebhook: false };
const withWebhook = { restaurantWebhook: true };

describe('when an order is finished', () => {
  it('is not, while the payment has no outcome', () => {
    expect(isOrderFinished(order(null), noWebhook)).toBe(false);
    expect(channelsTold(order(null), withWebhook)).toEqual([]);
  });

  it('waits for the e-mail: no delivery yet, or one still pending, is not the end', () => {
    expect(isOrderFinished(order(payment('succeeded')), noWebhook)).toBe(false);
    expect(isOrderFinished(order(payment('succeeded'), [delivery('email', 'pending')]), noWebhook)).toBe(false);
  });

  it('is, once the e-mail is sent or failed for good', () => {
    expect(isOrderFinished(order(payment('succeeded'), [delivery('email', 'sent')]), noWebhook)).toBe(true);
    expect(isOrderFinished(order(payment('failed'), [delivery('email', 'failed')]), noWebhook)).toBe(true);
  });

  it('waits for the restaurant webhook too for a paid order when one is configured', () => {
    expect(channelsTold(order(payment('succeeded')), withWebhook)).toEqual(['email', 'webhook']);
    expect(isOrderFinished(order(payment('succeeded'), [delivery('email', 'sent')]), withWebhook)).toBe(false);
    expect(isOrderFinished(order(payment('succeeded'), [delivery('email', 'sent'), delivery('webhook', 'pending')]), withWebhook)).toBe(false);
    expect(isOrderFinished(order(payment('succeeded'), [delivery('email', 'sent'), delivery('webhook', 'failed')]), withWebhook)).toBe(true);
  });

  it('does not wait for a webhook about a failed payment: the restaurant hears of paid orders only', () => {
    expect(channelsTold(order(payment('failed')), withWebhook)).toEqual(['email']);
    expect(isOrderFinished(order(payment('failed'), [delivery('email', 'sent')]), withWebhook)).toBe(true);
  });
});
