import type { PaymentAttempt } from '../db/schema.ts';
import { Events, type EventTrace, type OrderPlaced, type PaymentCompleted } from './events.ts';

/**
 * The one builder of each order event, used by whoever emits it (the API, the payment worker) and by the
 * reconciler alike. Adding a field to an event: its schema in events.ts, and here.
 */

/** `orders.placed` for an order; `trace`: the context it is published in. */
export function orderPlacedEvent(order: { id: string; requestId: string }, { occurredAt, trace }: { occurredAt?: Date; trace?: EventTrace } = {}): OrderPlaced {
  return Events.orderPlaced.create({ orderId: order.id }, order.requestId, occurredAt, trace);
}

/** `payment.completed` for a recorded outcome. */
export function paymentCompletedEvent(
  order: { id: string; requestId: string },
  attempt: Pick<PaymentAttempt, 'outcome' | 'attempts' | 'chargeId' | 'failureReason'>,
  { trace }: { trace?: EventTrace } = {},
): PaymentCompleted {
  return Events.paymentCompleted.create(
    {
      orderId: order.id,
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
