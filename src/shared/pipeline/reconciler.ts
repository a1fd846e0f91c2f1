import { and, eq, inArray, isNull, lt, ne, notExists, notInArray, or, sql } from 'drizzle-orm';
import type { Database, Tx } from '../db/client.ts';
import { deliveries, orders, outbox, paymentAttempts } from '../db/schema.ts';
import { Events, type EventBase, type EventDefinition, type EventTrace } from './events.ts';
import { orderPlacedEvent, paymentCompletedEvent } from './order-events.ts';
import { addToOutbox } from './outbox.ts';
import { startPublishSpan } from '../tracing/producer-spans.ts';
import { APP_ORDER_ID, APP_REEMITTED } from '../tracing/semconv.ts';
import { linkTo } from '../tracing/trace-context.ts';
import { DISABLED_TRACING, type Tracing } from '../tracing/tracing.ts';

// Only one reconciler at a time across all API instances; the others skip their turn.
const RECONCILER_LOCK = 7_240_003;

export interface ReconcileResult {
  /** Orders still `processing` whose `orders.placed` was emitted again. */
  orderPlaced: number;
  /** Paid or failed orders not yet notified, or with a delivery stalled, whose `payment.completed` was emitted again. */
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
export async function reconcile(
  db: Database,
  { olderThanMs, limit = 500, tracing = DISABLED_TRACING }: { olderThanMs: number; limit?: number; tracing?: Tracing },
): Promise<ReconcileResult> {
  return db.transaction(async (tx) => {
    const [lock] = await tx.execute<{ locked: boolean }>(sql`select pg_try_advisory_xact_lock(${RECONCILER_LOCK}) as locked`);
    if (!lock?.locked) return { orderPlaced: 0, paymentCompleted: 0 };
    const cutoff = sql`now() - make_interval(secs => ${olderThanMs / 1000})`;

    // Both searches only look at `notified_at is null` rows (orders_unfinished_idx).
    const stuck = await tx
      .select()
      .from(orders)
      .where(
        and(
          isNull(orders.notifiedAt),
          eq(orders.status, 'processing'),
          lt(orders.updatedAt, cutoff),
          // Not lost, only waiting in Redis for its next scheduled payment attempt.
          or(isNull(orders.paymentRetryUntil), lt(orders.paymentRetryUntil, sql`now()`)),
          noRecentEvent(tx, Events.orderPlaced.type, cutoff),
        ),
      )
      .limit(limit);
    if (stuck.length > 0) {
      const origins = await lastTraceContexts(tx, Events.orderPlaced.type, stuck.map((order) => order.id));
      for (const order of stuck) {
        await reemit(tx, tracing, Events.orderPlaced, order.id, origins.get(order.id), (trace) => orderPlacedEvent(order, { trace }));
      }
    }

    const unnotified = await tx
      .select({ order: orders, attempt: paymentAttempts })
      .from(orders)
      .innerJoin(paymentAttempts, eq(paymentAttempts.orderId, orders.id))
      .where(
        and(
          isNull(orders.notifiedAt),
          ne(orders.status, 'processing'),
          lt(orders.updatedAt, cutoff),
          noRecentEvent(tx, Events.paymentCompleted.type, cutoff),
          // Not lost: its e-mail failed for good (a 5xx), or waits in Redis for its next attempt, or is being sent.
          notExists(
            tx
              .select({ one: sql`1` })
              .from(deliveries)
              .where(and(eq(deliveries.orderId, orders.id), eq(deliveries.channel, 'email'), or(eq(deliveries.status, 'failed'), waitsOrSends()))),
          ),
        ),
      )
      .limit(limit);
    // A delivery of another channel (the restaurant's webhook) whose entry Redis lost: pending, past its
    // wait, untouched since the cutoff. The e-mail's worker registers it (registerDeliveries) even when
    // the webhook group never read the entry. Orders found above are emitted once, for every channel.
    const stalled = await tx
      .select({ order: orders, attempt: paymentAttempts })
      .from(deliveries)
      .innerJoin(orders, eq(orders.id, deliveries.orderId))
      .innerJoin(paymentAttempts, eq(paymentAttempts.orderId, deliveries.orderId))
      .where(
        and(
          ne(deliveries.status, 'sent'),
          eq(deliveries.status, 'pending'),
          lt(deliveries.updatedAt, cutoff),
          sql`not ${waitsOrSends()}`,
          noRecentEvent(tx, Events.paymentCompleted.type, cutoff),
          unnotified.length > 0 ? notInArray(deliveries.orderId, unnotified.map(({ order }) => order.id)) : undefined,
        ),
      )
      .limit(limit);
    const toEmit = [...unnotified, ...new Map(stalled.map((row) => [row.order.id, row])).values()];
    const origins = await lastTraceContexts(tx, Events.paymentCompleted.type, toEmit.map(({ order }) => order.id));
    for (const { order, attempt } of toEmit) {
      await reemit(tx, tracing, Events.paymentCompleted, order.id, origins.get(order.id), (trace) => paymentCompletedEvent(order, attempt, { trace }));
    }
    return { orderPlaced: stuck.length, paymentCompleted: toEmit.length };
  });
}

/** A delivery waiting in Redis for its next scheduled attempt (see deliveries.retry_until), or leased to an attempt under way. */
function waitsOrSends() {
  return sql`(coalesce(${deliveries.retryUntil} > now(), false) or coalesce(${deliveries.sendingUntil} > now(), false))`;
}

/**
 * Writes a copy of an event to the outbox. Its `tracelink` is the context the last copy was produced
 * in, so the consumer's span links to the order's trace; its `traceparent` a new trace's publish span
 * (reconciling is work of its own, not part of the request that placed the order).
 */
async function reemit<Event extends EventBase>(
  tx: Tx,
  tracing: Tracing,
  definition: EventDefinition<Event>,
  orderId: string,
  origin: string | undefined,
  build: (trace: EventTrace) => Event,
): Promise<void> {
  const publish = startPublishSpan(tracing, definition.stream, {
    root: true,
    links: [linkTo(origin, 'origin')],
    attributes: { [APP_ORDER_ID]: orderId, [APP_REEMITTED]: true },
  });
  const event = build({ traceparent: publish.traceparent, tracelink: origin });
  try {
    await addToOutbox(tx, definition, event, orderId);
    publish.end();
  } catch (error) {
    publish.end(error);
    throw error;
  }
}

/** The trace context each order's latest outbox row of this type was produced in (its traceparent, else its tracelink). */
async function lastTraceContexts(tx: Tx, eventType: string, orderIds: string[]): Promise<Map<string, string>> {
  if (orderIds.length === 0) return new Map();
  const rows = await tx.execute<{ order_id: string; context: string | null }>(sql`
    select distinct on (${outbox.orderId}) ${outbox.orderId} as order_id, coalesce(${outbox.event}->>'traceparent', ${outbox.event}->>'tracelink') as context
    from ${outbox} where ${inArray(outbox.orderId, orderIds)} and ${outbox.eventType} = ${eventType}
    order by ${outbox.orderId}, ${outbox.id} desc`);
  return new Map(rows.flatMap((row) => (row.context ? [[row.order_id, row.context] as const] : [])));
}
