import { eq, inArray } from 'drizzle-orm';
import type { Database, Tx } from '../../shared/db/client.ts';
import { deliveries, orderItems, orders, paymentAttempts } from '../../shared/db/schema.ts';
import { OrderNotFound } from '../errors/domain.ts';
import type { OrderView } from '../models/order.ts';
import { withDbRetry, type DbRetryOptions } from './db-retry.ts';
import { toOrderView } from './order-view.ts';

/** The order with its items, payment and deliveries, or undefined when there is none with this id. */
export async function findOrder(db: Database | Tx, orderId: string): Promise<OrderView | undefined> {
  // Its one value, not .get(orderId): PostgreSQL reads an id in upper case as the same UUID, and answers it in lower case.
  const [order] = (await findOrders(db, [orderId])).values();
  return order;
}

/**
 * Several orders as findOrder reads one, in the same three statements however many there are (the
 * live streams read every order a batch of changes touched at once); ids with no order are left out.
 * The three are sent together: on one connection postgres.js pipelines them, so a read costs one
 * round trip, not three (the live streams' commit-to-message delay is mostly round trips).
 */
export async function findOrders(db: Database | Tx, orderIds: readonly string[]): Promise<Map<string, OrderView>> {
  if (orderIds.length === 0) return new Map();
  const ids = [...orderIds];
  const [rows, items, told] = await Promise.all([
    db.select({ order: orders, payment: paymentAttempts }).from(orders).leftJoin(paymentAttempts, eq(paymentAttempts.orderId, orders.id)).where(inArray(orders.id, ids)),
    db.select().from(orderItems).where(inArray(orderItems.orderId, ids)),
    db.select().from(deliveries).where(inArray(deliveries.orderId, ids)),
  ]);
  const itemsOf = Map.groupBy(items, (item) => item.orderId);
  const toldOf = Map.groupBy(told, (delivery) => delivery.orderId);
  return new Map(rows.map(({ order, payment }) => [order.id, toOrderView(order, itemsOf.get(order.id) ?? [], payment, toldOf.get(order.id) ?? [])]));
}

/** GET /orders/:id: read again after a transient database failure, within the retry budget. */
export async function getOrder(db: Database, orderId: string, retry: DbRetryOptions): Promise<OrderView> {
  const order = await withDbRetry(() => findOrder(db, orderId), retry);
  if (!order) throw new OrderNotFound(orderId);
  return order;
}
