import { Events, type EventTrace, type OrderPlaced, type PaymentCompleted } from './events.ts';
import type { Order, OrderItem, PaymentAttempt } from '../db/schema.ts';

type OrderFacts = Pick<Order, 'id' | 'customerEmail' | 'totalCents' | 'requestId'>;

/** The `orders.placed` event for an order, built from its rows; used by the API and by the reconciler alike. `trace`: the context it is published in. */
export function orderPlacedEvent(order: OrderFacts, items: Pick<OrderItem, 'menuItemId' | 'quantity' | 'unitPriceCents'>[], trace?: EventTrace): OrderPlaced {
  return Events.orderPlaced.create(
    {
      orderId: order.id,
      customerEmail: order.customerEmail,
      totalCents: order.totalCents,
      items: items.map(({ menuItemId, quantity, unitPriceCents }) => ({ menuItemId, quantity, unitPriceCents })),
    },
    order.requestId,
    undefined,
    trace,
  );
}

/** The `payment.completed` event for a recorded outcome; used by the payment worker and by the reconciler alike. */
export function paymentCompletedEvent(
  order: OrderFacts,
  attempt: Pick<PaymentAttempt, 'outcome' | 'attempts' | 'chargeId' | 'failureReason'>,
  trace?: EventTrace,
): PaymentCompleted {
  return Events.paymentCompleted.create(
    {
      orderId: order.id,
      customerEmail: order.customerEmail,
      totalCents: order.totalCents,
      outcome: attempt.outcome,
      attempts: attempt.attempts,
      ...(attempt.chargeId ? { chargeId: attempt.chargeId } : {}),
      ...(attempt.failureReason ? { failureReason: attempt.failureReason } : {}),
    },
    order.requestId,
    undefined,
    trace,
  );
}
