import type { Database } from '../../shared/db/client.ts';
import { Events } from '../../shared/pipeline/events.ts';
import { withDatabaseSpan } from '../../shared/tracing/database-spans.ts';
import { withPublishSpan } from '../../shared/tracing/producer-spans.ts';
import { APP_EVENT_ID, APP_ORDER_ID } from '../../shared/tracing/semconv.ts';
import { DISABLED_TRACING, type Tracing } from '../../shared/tracing/tracing.ts';
import { MenuItemNotFound, MenuItemUnavailable, ValidationFailed } from '../errors/domain.ts';
import { MAX_QUANTITY, type OrderLine, type OrderView, type PlaceOrderBody } from '../models/order.ts';
import { withDbRetry, type DbRetryOptions } from './db-retry.ts';
import { findOrder } from './get-order.ts';
import { claimIdempotencyKey, completeIdempotencyKey, fingerprintOf, releaseIdempotencyKey, type IdempotentResponse } from './idempotency.ts';
import { toOrderView } from './order-view.ts';
import { writeOrder } from './write-order.ts';

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

export interface PlaceOrderOptions {
  requestId: string;
  idempotency?: { key: string; ttlHours: number; waitMs: number };
  /** How long to ride through transient database failures before answering 503. */
  retry: DbRetryOptions;
  /** The order write gets a publish span (its context goes with the event) and a database span. */
  tracing?: Tracing;
}

/**
 * Places an order: one statement without an Idempotency-Key; with one, three (claim the key, write
 * the order linked to it, store the response). See write-order.ts and idempotency.ts.
 *
 * A transient database failure (a session killed, a connection reset) is retried within the
 * request. The order id is chosen once, before the first try: when a connection is lost while the
 * write is on the wire, nobody can say whether it committed, so every retry first looks for the
 * order on a fresh connection, and answers with it if it is there. Never two orders, and never a
 * 5xx for an order that exists.
 */
export async function placeOrder(
  db: Database,
  input: PlaceOrderBody,
  { requestId, idempotency, retry, tracing = DISABLED_TRACING }: PlaceOrderOptions,
): Promise<IdempotentResponse<OrderView>> {
  const pg = db.$client;
  const lines = mergeLines(input.items);
  const orderId = Bun.randomUUIDv7();
  const eventId = crypto.randomUUID();
  const occurredAt = new Date();
  const key = idempotency?.key;
  const fingerprint = idempotency && fingerprintOf({ customerEmail: input.customerEmail, lines });

  const created = async (order: OrderView): Promise<IdempotentResponse<OrderView>> => {
    if (key) await completeIdempotencyKey(pg, key, order.id, 201, order);
    return { status: 201, body: order, replayed: false };
  };

  return withDbRetry(async (attempt) => {
    if (attempt > 1) {
      const committed = await findOrder(db, orderId);
      if (committed) return created(committed);
    }
    if (idempotency && fingerprint) {
      const claim = await claimIdempotencyKey<OrderView>(pg, { ...idempotency, fingerprint, holder: orderId });
      if (claim.kind === 'replay') return { status: claim.status, body: claim.body, replayed: true };
      if (claim.kind === 'orphaned') {
        // Its request wrote the order and died before storing the answer: store it now, from the order.
        const order = (await findOrder(db, claim.orderId))!;
        await completeIdempotencyKey(pg, idempotency.key, order.id, 201, order);
        return { status: 201, body: order, replayed: true };
      }
    }
    // The outbox row is the event's creation: its publish span wraps the statement, and its context is stored with the row.
    const result = await withPublishSpan(tracing, Events.orderPlaced.stream, { attributes: { [APP_ORDER_ID]: orderId, [APP_EVENT_ID]: eventId } }, (traceparent) =>
      withDatabaseSpan(tracing, { summary: 'INSERT orders order_items outbox', operation: 'WITH' }, () =>
        writeOrder(pg, { orderId, lines, customerEmail: input.customerEmail, requestId, eventId, occurredAt, idempotencyKey: key, traceparent }),
      ),
    );
    if (!result.written) {
      if (key) await releaseIdempotencyKey(pg, key);
      if (result.unknown.length > 0) throw new MenuItemNotFound(result.unknown);
      throw new MenuItemUnavailable(result.unavailable);
    }
    return created(toOrderView(result.order, result.items, null));
  }, retry);
}
