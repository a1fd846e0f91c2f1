import { and, eq, inArray, isNull, lt, ne, notExists, sql } from 'drizzle-orm';
import type { Database, Tx } from '../db/client.ts';
import { orderItems, orders, outbox, paymentAttempts } from '../db/schema.ts';
import { Events } from './events.ts';
import { orderPlacedEvent, paymentCompletedEvent } from './order-events.ts';
import { addToOutbox } from './outbox.ts';

// Only one reconciler at a time across all API instances; the others skip their turn.
const RECONCILER_LOCK = 7_240_003;

export interface ReconcileResult {
  /** Orders still `processing` whose `orders.placed` was emitted again. */
  orderPlaced: number;
  /** Paid or failed orders not yet notified whose `payment.completed` was emitted again. */
  paymentCompleted: number;
}

function noRecentEvent(tx: Tx, eventType: string, cutoff: ReturnType<typeof sql>) {
  return notExists(
    tx
      .select({ one: sql`1` })
      .from(outbox)
      .where(and(eq(outbox.orderId, orders.id), eq(outbox.eventType, eventType), sql`${outbox.createdAt} > ${cutoff}`)),
  );
}

/**
 * PostgreSQL is the truth, Redis only the transport: if Redis loses entries (restart without
 * persistence, failover to a lagging replica), orders would sit forever. This finds orders whose
 * journey stalled for `olderThanMs` since their last event and emits that event again through the
 * outbox. Consumers are idempotent, so a copy of an event that was only slow is harmless.
 */
export async function reconcile(db: Database, { olderThanMs, limit = 500 }: { olderThanMs: number; limit?: number }): Promise<ReconcileResult> {
  return db.transaction(async (tx) => {
    const [lock] = await tx.execute<{ locked: boolean }>(sql`select pg_try_advisory_xact_lock(${RECONCILER_LOCK}) as locked`);
    if (!lock?.locked) return { orderPlaced: 0, paymentCompleted: 0 };
    const cutoff = sql`now() - make_interval(secs => ${olderThanMs / 1000})`;

    // Both searches only look at `notified_at is null` rows (orders_unfinished_idx).
    const stuck = await tx
      .select()
      .from(orders)
      .where(and(isNull(orders.notifiedAt), eq(orders.status, 'processing'), lt(orders.updatedAt, cutoff), noRecentEvent(tx, Events.orderPlaced.type, cutoff)))
      .limit(limit);
    if (stuck.length > 0) {
      const items = await tx.select().from(orderItems).where(inArray(orderItems.orderId, stuck.map((order) => order.id)));
      for (const order of stuck) {
        const event = orderPlacedEvent(order, items.filter((item) => item.orderId === order.id));
        await addToOutbox(tx, Events.orderPlaced, event, order.id);
      }
    }

    const unnotified = await tx
      .select({ order: orders, attempt: paymentAttempts })
      .from(orders)
      .innerJoin(paymentAttempts, eq(paymentAttempts.orderId, orders.id))
      .where(
        and(isNull(orders.notifiedAt), ne(orders.status, 'processing'), lt(orders.updatedAt, cutoff), noRecentEvent(tx, Events.paymentCompleted.type, cutoff)),
      )
      .limit(limit);
    for (const { order, attempt } of unnotified) {
      await addToOutbox(tx, Events.paymentCompleted, paymentCompletedEvent(order, attempt), order.id);
    }
    return { orderPlaced: stuck.length, paymentCompleted: unnotified.length };
  });
}
