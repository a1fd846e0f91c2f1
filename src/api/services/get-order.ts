import { eq } from 'drizzle-orm';
import type { Database, Tx } from '../../shared/db/client.ts';
import { orderItems, orders, paymentAttempts } from '../../shared/db/schema.ts';
import { OrderNotFound } from '../errors/domain.ts';
import type { OrderView } from '../models/order.ts';
import { toOrderView } from './order-view.ts';

export async function getOrder(db: Database | Tx, orderId: string): Promise<OrderView> {
  const [row] = await db
    .select({ order: orders, payment: paymentAttempts })
    .from(orders)
    .leftJoin(paymentAttempts, eq(paymentAttempts.orderId, orders.id))
    .where(eq(orders.id, orderId));
  if (!row) throw new OrderNotFound(orderId);
  const items = await db.select().from(orderItems).where(eq(orderItems.orderId, orderId));
  return toOrderView(row.order, items, row.payment);
}
