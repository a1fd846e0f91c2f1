import { Type, type Static } from '@sinclair/typebox';
import type { OrderFacts } from '../order-facts.ts';

/** The event type a paid order is announced as. */
export const ORDER_PAID = 'order.paid';

/**
 * What the restaurant receives for a paid order: the Standard Webhooks envelope (`type`, `timestamp`,
 * `data`) around the order as the kitchen needs it. No card data, no customer address. The body is the
 * same on every attempt; only the webhook-timestamp header (and so the signature) is new each time.
 */
export const OrderPaidWebhook = Type.Object({
  type: Type.Literal(ORDER_PAID),
  timestamp: Type.String({ description: 'When the order was paid (ISO 8601)' }),
  data: Type.Object({
    id: Type.String({ description: 'The order id' }),
    items: Type.Array(
      Type.Object({ menuItemId: Type.Integer(), name: Type.String(), quantity: Type.Integer(), unitPriceCents: Type.Integer(), lineTotalCents: Type.Integer() }),
    ),
    totalCents: Type.Integer(),
    currency: Type.String(),
    createdAt: Type.String({ description: 'When the order was placed' }),
    paidAt: Type.String(),
  }),
});
export type OrderPaidWebhook = Static<typeof OrderPaidWebhook>;

/** The webhook-id of a paid order's webhook: the same on every retry, so the receiver can tell a retry from a new event. */
export function webhookIdOf(orderId: string): string {
  return `msg_${orderId}_${ORDER_PAID}`;
}

export function orderPaidWebhook(order: OrderFacts, currency: string): OrderPaidWebhook {
  return {
    type: ORDER_PAID,
    timestamp: order.decidedAt.toISOString(),
    data: {
      id: order.id,
      items: order.items.map((item) => ({ ...item, lineTotalCents: item.unitPriceCents * item.quantity })),
      totalCents: order.totalCents,
      currency,
      createdAt: order.createdAt.toISOString(),
      paidAt: order.decidedAt.toISOString(),
    },
  };
}
