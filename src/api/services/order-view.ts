import type { Delivery, Order, OrderItem, PaymentAttempt } from '../../shared/db/schema.ts';
import { maskEmail, maskEmailsIn } from '../../shared/ops/masking.ts';
import type { OrderView } from '../models/order.ts';

/** The one mapping from rows to the order's JSON shape, used by POST, GET and idempotent replays alike. */
export function toOrderView(order: Order, items: OrderItem[], payment: PaymentAttempt | null, deliveries: Delivery[] = []): OrderView {
  return {
    id: order.id,
    status: order.status,
    customerEmail: order.customerEmail,
    items: items
      .toSorted((a, b) => a.menuItemId - b.menuItemId)
      .map((item) => ({
        menuItemId: item.menuItemId,
        name: item.name,
        quantity: item.quantity,
        unitPriceCents: item.unitPriceCents,
        lineTotalCents: item.unitPriceCents * item.quantity,
      })),
    totalCents: order.totalCents,
    createdAt: order.createdAt.toISOString(),
    updatedAt: order.updatedAt.toISOString(),
    payment: payment && {
      outcome: payment.outcome,
      attempts: payment.attempts,
      chargeId: payment.chargeId,
      failureReason: payment.failureReason,
      processedAt: payment.createdAt.toISOString(),
    },
    notifiedAt: order.notifiedAt?.toISOString() ?? null,
    deliveries: deliveries
      .toSorted((a, b) => a.channel.localeCompare(b.channel))
      .map((delivery) => ({
        channel: delivery.channel,
        status: delivery.status,
        attempts: delivery.attempts,
        lastError: delivery.lastError,
        sentAt: delivery.sentAt?.toISOString() ?? null,
      })),
  };
}

/**
 * The order as anyone holding its id may read it: everything but who placed it. An order id travels
 * (links, logs, support tickets, a screenshot of the operations page), so it must not be a key to the
 * customer's address; the placing client sent the address itself and has it in its 201.
 */
export function withMaskedEmail(view: OrderView): OrderView {
  return {
    ...view,
    customerEmail: maskEmail(view.customerEmail),
    // A mail server's refusal often names the address (`550 <ada@example.com>: no such user`).
    deliveries: view.deliveries.map((delivery) => ({ ...delivery, lastError: delivery.lastError && maskEmailsIn(delivery.lastError) })),
  };
}
