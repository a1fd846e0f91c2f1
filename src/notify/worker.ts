import type { Database } from '../shared/db/client.ts';
import type { PaymentCompleted } from '../shared/pipeline/events.ts';
import type { Logger } from '../shared/runtime/log.ts';
import type { BatchItem, BatchResult } from '../shared/streams/consumer.ts';
import { PoisonMessage } from '../shared/streams/poison-message.ts';
import { withEntryContext } from '../shared/tracing/consumer-spans.ts';
import { withDatabaseSpan } from '../shared/tracing/database-spans.ts';
import { DISABLED_TRACING, type Tracing } from '../shared/tracing/tracing.ts';

export interface NotifyWorkerDeps {
  db: Database;
  log: Logger;
  /** The batch's statement gets a database span; each notice is logged in its order's trace. */
  tracing?: Tracing;
}

interface NotifiedRow {
  order_id: string;
  /** `created`: notified now; `known`: the order exists but was notified before; `missing`: no such order. */
  state: 'created' | 'known' | 'missing';
  channel: string | null;
  created_at: Date | string | null;
}

/**
 * Handles a batch of `payment.completed` events in one statement: tells each customer (here, a
 * structured log line stands in for the e-mail) and records it. The notification row is keyed by
 * order, and the log line is only written when that row was new, so a redelivered or re-emitted
 * event notifies nobody twice. An event about an order that does not exist is poison.
 */
export function createNotifyHandler({ db, log: baseLog, tracing = DISABLED_TRACING }: NotifyWorkerDeps) {
  const sql = db.$client;
  return async function handlePaymentsCompleted(batch: BatchItem<PaymentCompleted>[]): Promise<BatchResult> {
    const events = batch.map(({ message }) => message);
    const orderIds = [...new Set(events.map((e) => e.payload.orderId))];
    // One round trip: insert the notifications of the orders that exist (the first event per order
    // wins within a batch), stamp those orders notified, and say what happened to each order.
    // `orders` is reached by primary key only, `o.id = any(<the batch's ids>)` (the workers' pool rules
    // out sequential scans: DbOptions.indexLookupsOnly). A `notified_at is null` condition would let the
    // planner read all of orders_unfinished_idx instead, dead entries too, batch after batch; coalesce
    // keeps the first notice's time without one.
    const rows = await withDatabaseSpan(tracing, { summary: 'INSERT notifications UPDATE orders', operation: 'WITH' }, () => sql<NotifiedRow[]>`
      with batch as (
        select * from unnest(
          ${events.map((e) => e.payload.orderId)}::uuid[], ${events.map((e) => e.eventId)}::uuid[],
          ${events.map((e) => e.payload.customerEmail)}::text[], ${events.map((e) => e.payload.outcome)}::text[],
          ${events.map((e) => e.requestId)}::text[]
        ) as b(order_id, event_id, recipient, outcome, request_id)
      ),
      known as (select distinct on (b.order_id) b.* from batch b join orders o on o.id = b.order_id where o.id = any(${orderIds}::uuid[]) order by b.order_id),
      created as (
        insert into notifications (order_id, event_id, recipient, outcome, request_id)
        select order_id, event_id, recipient, outcome::payment_outcome, request_id from known
        on conflict do nothing
        returning order_id, channel, created_at
      ),
      stamped as (
        update orders o set notified_at = coalesce(o.notified_at, c.created_at) from created c where o.id = any(${orderIds}::uuid[]) and o.id = c.order_id
      )
      select order_id, 'created' as state, channel, created_at from created
      union all
      select k.order_id, 'known', null::text, null::timestamptz from known k where not exists (select 1 from created c where c.order_id = k.order_id)
      union all
      select distinct b.order_id, 'missing', null::text, null::timestamptz from batch b where not exists (select 1 from known k where k.order_id = b.order_id)`);

    const byOrder = new Map(rows.map((row) => [row.order_id, row]));
    const failed: NonNullable<BatchResult['failed']> = [];
    const told = new Set<string>();
    for (const { message: event, meta } of batch) {
      const { orderId, outcome, customerEmail } = event.payload;
      const row = byOrder.get(orderId);
      if (!row || row.state === 'missing') {
        failed.push({ id: meta.id, error: new PoisonMessage(`order ${orderId} does not exist`) });
        continue;
      }
      const log = baseLog.child({ order_id: orderId, request_id: event.requestId, event_id: event.eventId, entry_id: meta.id });
      if (row.state !== 'created' || told.has(orderId)) {
        withEntryContext(meta.id, () => log.info('customer already notified; nothing to do'));
        continue;
      }
      told.add(orderId);
      // The notification itself: one line per order, everything a mailer would need, in the order's trace.
      withEntryContext(meta.id, () =>
        log.info(
          {
            channel: row.channel,
            email: customerEmail,
            outcome,
            total_cents: event.payload.totalCents,
            ...(event.payload.failureReason ? { failure_reason: event.payload.failureReason } : {}),
            notified_at: row.created_at && new Date(row.created_at).toISOString(),
          },
          outcome === 'succeeded' ? 'customer notified: payment received' : 'customer notified: payment failed',
        ),
      );
    }
    return { failed };
  };
}
