import { eq, sql } from 'drizzle-orm';
import type { Database } from '../../shared/db/client.ts';
import { deliveries, orderItems, orders, paymentAttempts } from '../../shared/db/schema.ts';
import { OrderNotFound } from '../errors/domain.ts';
import type { OrderView } from '../models/order.ts';
import { withDbRetry, type DbRetryOptions } from './db-retry.ts';
import { toOrderView } from './order-view.ts';

/** Reads orders as GET /orders/{id} answers them; one per pool, see createOrderReads. */
export interface OrderReads {
  /** The order with its items, payment and deliveries, or undefined when there is none with this id. */
  findOrder(orderId: string): Promise<OrderView | undefined>;
  /**
   * Several orders as findOrder reads one, in the same three statements however many there are (the
   * live streams read every order a batch of changes touched at once); ids with no order are left out.
   */
  findOrders(orderIds: readonly string[]): Promise<Map<string, OrderView>>;
  /** GET /orders/:id: read again after a transient database failure, within the retry budget. */
  getOrder(orderId: string, retry: DbRetryOptions): Promise<OrderView>;
}

/**
 * The order reads of one pool, as drizzle prepared queries: each statement's SQL is built once here,
 * not on every read, and its text is the same whatever the number of ids (`= any($1::uuid[])`, where
 * `inArray` writes one parameter per id), so the server plans one statement, not one per count.
 * Measured on a read of 1-5 orders: 0.3 instead of 0.8 ms from call to answer, 0.1-0.2 instead of
 * 0.4-0.6 ms of the API's CPU, 0.2-0.3 instead of 0.4-0.5 ms of PostgreSQL's (bench/README.md,
 * "The order reads, prepared once"). Every GET /orders/{id} and every live stream's message is one.
 *
 * The three statements are sent together: on one connection postgres.js pipelines them, so a read
 * costs one round trip, not three (the live streams' commit-to-message delay is mostly round trips).
 */
export function createOrderReads(db: Database): OrderReads {
  const ids = sql.placeholder('ids');
  const withPayment = db
    .select({ order: orders, payment: paymentAttempts })
    .from(orders)
    .leftJoin(paymentAttempts, eq(paymentAttempts.orderId, orders.id))
    .where(sql`${orders.id} = any(${ids}::uuid[])`)
    .prepare('order_reads_orders');
  const items = db.select().from(orderItems).where(sql`${orderItems.orderId} = any(${ids}::uuid[])`).prepare('order_reads_items');
  const told = db.select().from(deliveries).where(sql`${deliveries.orderId} = any(${ids}::uuid[])`).prepare('order_reads_deliveries');

  async function findOrders(orderIds: readonly string[]): Promise<Map<string, OrderView>> {
    if (orderIds.length === 0) return new Map();
    const params = { ids: [...orderIds] };
    const [rows, itemRows, deliveryRows] = await Promise.all([withPayment.execute(params), items.execute(params), told.execute(params)]);
    const itemsOf = Map.groupBy(itemRows, (item) => item.orderId);
    const toldOf = Map.groupBy(deliveryRows, (delivery) => delivery.orderId);
    return new Map(rows.map(({ order, payment }) => [order.id, toOrderView(order, itemsOf.get(order.id) ?? [], payment, toldOf.get(order.id) ?? [])]));
  }

  async function findOrder(orderId: string): Promise<OrderView | undefined> {
    // Its one value, not .get(orderId): PostgreSQL reads an id in upper case as the same UUID, and answers it in lower case.
    const [order] = (await findOrders([orderId])).values();
    return order;
  }

  async function getOrder(orderId: string, retry: DbRetryOptions): Promise<OrderView> {
    const order = await withDbRetry(() => findOrder(orderId), retry);
    if (!order) throw new OrderNotFound(orderId);
    return order;
  }

  return { findOrder, findOrders, getOrder };
}
