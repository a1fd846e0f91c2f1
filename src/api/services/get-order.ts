import { eq } from 'drizzle-orm';
import type { Database, Tx } from '../../shared/db/client.ts';
import { orderItems, orders, paymentAttempts } from '../../shared/db/schema.ts';
import { OrderNotFound } from '../errors/domain.ts';
import type { OrderView } from '../models/order.ts';
import { withDbRetry, type DbRetryOptions } from './db-retry.ts';
import { toOrderView } from './order-view.ts';

/** The order with its items and payment, or undefined when there is none with this id. */
export async function findOrder(db: Database | Tx, orderId: string): Promise<OrderView | undefined> {
  const [row] = await db
    .select({ order: orders, payment: paymentAttempts })
    .from(orders)
    .leftJoin(paymentAttempts, eq(paymentAttempts.orderId, orders.id))
    .where(eq(orders.id, orderId));
  if (!row) return undefined;
  const items = await db.select().from(orderItems).where(eq(orderItems.orderId, orderId));
  return toOrderView(row.order, items, row.payment);
}

/** GET /orders/:id: read again after a transient database failure, within the retry budget. */
export async function getOrder(db: Database, orderId: string, retry: DbRetryOptions): Promise<OrderView> {
  const order = await withDbRetry(() => findOrder(db, orderId), retry);
  if (!order) throw new OrderNotFound(orderId);
  return order;
}
