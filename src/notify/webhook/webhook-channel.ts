import type { Channel } from '../channel.ts';
import { orderPaidWebhook, webhookIdOf } from './order-paid-webhook.ts';
import { createWebhookSender, type WebhookSettings } from './webhook-sender.ts';

/** The restaurant's webhook: every paid order, POSTed to ORDER_WEBHOOK_URL. */
export function createWebhookChannel(settings: WebhookSettings & { currency: string; retryScheduleMs: readonly number[] }): Channel {
  const post = createWebhookSender(settings);
  // Recorded without credentials or a query, which may carry a token.
  const endpoint = new URL(settings.url);
  const recipient = `${endpoint.origin}${endpoint.pathname}`;
  return {
    name: 'webhook',
    appliesTo: (order) => order.outcome === 'succeeded',
    address: (order) => ({ recipient, messageId: webhookIdOf(order.id) }),
    send: (order) => post(webhookIdOf(order.id), JSON.stringify(orderPaidWebhook(order, settings.currency))),
    attemptTimeoutMs: settings.timeoutMs,
    retryScheduleMs: settings.retryScheduleMs,
  };
}
