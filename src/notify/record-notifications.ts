import type { Sql } from 'postgres';
import type { PaymentCompleted } from '../shared/pipeline/events.ts';

export interface NotifiedRow {
  order_id: string;
  /** `created`: notified now; `known`: the order exists but was notified before; `missing`: no such order. */
  state: 'created' | 'known' | 'missing';
  channel: string | null;
  /** The order's e-mail and total, read here: the event names the order, PostgreSQL holds its facts. */
  recipient: string | null;
  total_cents: number | null;
  created_at: Date | string | null;
}

/**
 * One round trip for a batch: insert the notifications of the orders that exist (the first event per
 * order wins within a batch), stamp those orders notified, and say what happened to each order.
 * `orders` is reached by primary key only, `o.id = any(<the batch's ids>)` (the workers' pool rules out
 * sequential scans: DbOptions.indexLookupsOnly). A `notified_at is null` condition would let the planner
 * read all of orders_unfinished_idx instead, dead entries too, batch after batch; coalesce keeps the
 * first notice's time without one.
 */
export async function recordNotifications(sql: Sql, events: readonly PaymentCompleted[]): Promise<Map<string, NotifiedRow>> {
  const orderIds = [...new Set(events.map((e) => e.payload.orderId))];
  const rows = await sql<NotifiedRow[]>`
    with batch as (
      select * from unnest(
        ${events.map((e) => e.payload.orderId)}::uuid[], ${events.map((e) => e.eventId)}::uuid[],
        ${events.map((e) => e.payload.outcome)}::text[], ${events.map((e) => e.requestId)}::text[]
      ) as b(order_id, event_id, outcome, request_id)
    ),
    known as (
      select distinct on (b.order_id) b.*, o.customer_email as recipient, o.total_cents
      from batch b join orders o on o.id = b.order_id where o.id = any(${orderIds}::uuid[]) order by b.order_id
    ),
    created as (
      insert into notifications (order_id, event_id, recipient, outcome, request_id)
      select order_id, event_id, recipient, outcome::payment_outcome, request_id from known
      on conflict do nothing
      returning order_id, channel, recipient, created_at
    ),
    stamped as (
      update orders o set notified_at = coalesce(o.notified_at, c.created_at) from created c where o.id = any(${orderIds}::uuid[]) and o.id = c.order_id
    )
    select c.order_id, 'created' as state, c.channel, c.recipient, k.total_cents, c.created_at from created c join known k on k.order_id = c.order_id
    union all
    select k.order_id, 'known', null::text, null::text, null::int, null::timestamptz from known k where not exists (select 1 from created c where c.order_id = k.order_id)
    union all
    select distinct b.order_id, 'missing', null::text, null::text, null::int, null::timestamptz from batch b where not exists (select 1 from known k where k.order_id = b.order_id)`;
  return new Map(rows.map((row) => [row.order_id, row]));
}
