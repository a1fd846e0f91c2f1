import { and, eq } from 'drizzle-orm';
import { deliveries, menuItems, orders, paymentAttempts, type Delivery, type DeliveryChannel } from '../../src/shared/db/schema.ts';
import { Events } from '../../src/shared/pipeline/events.ts';
import { paymentCompletedEvent } from '../../src/shared/pipeline/order-events.ts';
import { addToOutbox } from '../../src/shared/pipeline/outbox.ts';
import type { Pipeline } from './pipeline.ts';

/**
 * An order placed through the API and given its payment outcome the way the payment worker records
 * one (outcome row, status and `payment.completed` in one transaction, through the outbox): the notify
 * tests start where the payment worker ends, with no payment process in the way.
 */
export async function paidOrder(
  pipeline: Pipeline,
  email: string,
  { outcome = 'succeeded', failureReason, items = [{ menuItemId: 1, quantity: 2 }] }: { outcome?: 'succeeded' | 'failed'; failureReason?: string; items?: { menuItemId: number; quantity: number }[] } = {},
): Promise<{ id: string; requestId: string }> {
  const { id } = await pipeline.placeOrder(email, items);
  const [order] = await pipeline.db.select().from(orders).where(eq(orders.id, id));
  const attempt = { outcome, attempts: 1, chargeId: outcome === 'succeeded' ? `ch_test_${id.slice(0, 8)}` : null, failureReason: outcome === 'failed' ? (failureReason ?? 'card_declined') : null };
  await pipeline.db.transaction(async (tx) => {
    await tx.insert(paymentAttempts).values({ orderId: id, ...attempt });
    await tx.update(orders).set({ status: outcome === 'succeeded' ? 'paid' : 'payment_failed', updatedAt: new Date() }).where(eq(orders.id, id));
    await addToOutbox(tx, Events.paymentCompleted, paymentCompletedEvent(order!, attempt), id);
  });
  pipeline.relay.kick();
  return { id, requestId: order!.requestId };
}

/** A menu item of the test's own, e.g. with a name that needs escaping. */
export async function menuItem(pipeline: Pipeline, name: string, priceCents: number): Promise<number> {
  const [row] = await pipeline.db.insert(menuItems).values({ name, priceCents }).returning({ id: menuItems.id });
  return row!.id;
}

/** The order's delivery on a channel, or undefined before its first attempt. */
export async function deliveryOf(pipeline: Pipeline, orderId: string, channel: DeliveryChannel): Promise<Delivery | undefined> {
  const [row] = await pipeline.db.select().from(deliveries).where(and(eq(deliveries.orderId, orderId), eq(deliveries.channel, channel)));
  return row;
}
