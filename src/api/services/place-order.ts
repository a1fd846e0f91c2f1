import { inArray } from 'drizzle-orm';
import type { Database, Tx } from '../../shared/db/client.ts';
import { menuItems, orderItems, orders } from '../../shared/db/schema.ts';
import { MenuItemNotFound, MenuItemUnavailable, ValidationFailed } from '../errors/domain.ts';
import { Events } from '../../shared/pipeline/events.ts';
import { orderPlacedEvent } from '../../shared/pipeline/order-events.ts';
import { addToOutbox } from '../../shared/pipeline/outbox.ts';
import { MAX_QUANTITY, type OrderLine, type OrderView, type PlaceOrderBody } from '../models/order.ts';
import { fingerprintOf, rethrowLockTimeout, runIdempotent, type IdempotentResponse } from './idempotency.ts';
import { withDbRetry, type DbRetryOptions } from './db-retry.ts';
import { findOrder } from './get-order.ts';
import { toOrderView } from './order-view.ts';


/** The same menu item twice becomes one line with the summed quantity; lines come out sorted by menu item id. */
export function mergeLines(items: readonly OrderLine[]): OrderLine[] {
  const quantities = new Map<number, number>();
  for (const { menuItemId, quantity } of items) {
    quantities.set(menuItemId, (quantities.get(menuItemId) ?? 0) + quantity);
  }
  const merged = [...quantities].map(([menuItemId, quantity]) => ({ menuItemId, quantity }));
  const tooMany = merged.filter((line) => line.quantity > MAX_QUANTITY);
  if (tooMany.length > 0) {
    throw new ValidationFailed(
      `Merged quantity above ${MAX_QUANTITY} for menu item ${tooMany.map((line) => line.menuItemId).join(', ')}`,
      tooMany.map((line) => ({ field: '/items', message: `menuItemId ${line.menuItemId}: total quantity ${line.quantity} > ${MAX_QUANTITY}` })),
    );
  }
  return merged.toSorted((a, b) => a.menuItemId - b.menuItemId);
}

/** Writes the order and its lines, pricing every line from the menu as it is now. */
async function createOrder(tx: Tx, orderId: string, lines: OrderLine[], customerEmail: string, requestId: string): Promise<OrderView> {
  const ids = lines.map((line) => line.menuItemId);
  const menu = await tx.select().from(menuItems).where(inArray(menuItems.id, ids));
  const byId = new Map(menu.map((item) => [item.id, item]));

  const unknown = ids.filter((id) => !byId.has(id));
  if (unknown.length > 0) throw new MenuItemNotFound(unknown);
  const unavailable = menu.filter((item) => !item.available);
  if (unavailable.length > 0) throw new MenuItemUnavailable(unavailable);

  const priced = lines.map((line) => {
    const item = byId.get(line.menuItemId)!;
    return { ...line, name: item.name, unitPriceCents: item.priceCents };
  });
  const totalCents = priced.reduce((sum, line) => sum + line.unitPriceCents * line.quantity, 0);

  const [order] = await tx
    .insert(orders)
    .values({ id: orderId, customerEmail, totalCents, requestId })
    .returning();
  const items = await tx
    .insert(orderItems)
    .values(priced.map((line) => ({ ...line, orderId: order!.id })))
    .returning();
  // Same transaction: the order and the news of it commit together or not at all.
  await addToOutbox(tx, Events.orderPlaced, orderPlacedEvent(order!, items), order!.id);
  return toOrderView(order!, items, null);
}

export interface PlaceOrderOptions {
  requestId: string;
  idempotency?: { key: string; ttlHours: number; waitMs: number };
  /** How long to ride through transient database failures before answering 503. */
  retry: DbRetryOptions;
}

/**
 * Places an order in one transaction; with an idempotency key, at most once per key.
 *
 * A transient database failure (a session killed, a connection reset) is retried within the
 * request. The order id is chosen once, before the first try: when a connection is lost while
 * COMMIT is on the wire, nobody can say whether the order committed, so every retry first looks
 * for it on a fresh connection, and answers with it if it is there. Never two orders, and never a
 * 5xx for an order that exists.
 */
export async function placeOrder(
  db: Database,
  input: PlaceOrderBody,
  { requestId, idempotency, retry }: PlaceOrderOptions,
): Promise<IdempotentResponse<OrderView>> {
  const lines = mergeLines(input.items);
  const orderId = Bun.randomUUIDv7();
  const create = async (tx: Tx) => {
    const order = await createOrder(tx, orderId, lines, input.customerEmail, requestId);
    return { status: 201, body: order, orderId: order.id };
  };
  const fingerprint = idempotency && fingerprintOf({ customerEmail: input.customerEmail, lines });
  return withDbRetry(async (attempt) => {
    if (attempt > 1) {
      const committed = await findOrder(db, orderId);
      if (committed) return { status: 201, body: committed, replayed: false };
    }
    if (!idempotency || !fingerprint) {
      const created = await db.transaction(create);
      return { status: created.status, body: created.body, replayed: false };
    }
    return db.transaction((tx) => runIdempotent(tx, { ...idempotency, fingerprint }, () => create(tx))).catch(rethrowLockTimeout);
  }, retry);
}
