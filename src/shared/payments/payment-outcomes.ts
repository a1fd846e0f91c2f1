import type { Sql } from 'postgres';
import { outboxColumns, type StagedEvent } from '../pipeline/outbox-writer.ts';

/** How an outcome became known; see payment_attempts.source. */
export type OutcomeSource = 'reply' | 'read' | 'webhook';

/** An order's payment outcome, as recorded once in payment_attempts. */
export type PaymentOutcome =
  | { orderId: string; outcome: 'succeeded'; chargeId: string; attempts: number; source: OutcomeSource }
  | { orderId: string; outcome: 'failed'; failureReason: string; attempts: number; source: OutcomeSource };

/**
 * One statement for a whole batch: each order's payment attempt, its new status and its
 * `payment.completed` outbox row (staged by the outbox writer, one per outcome), atomically. An order
 * that already had an outcome (another worker, an earlier delivery, or the provider's webhook got
 * there first) gets nothing written. Returns the ids of the orders whose outcome was recorded now.
 * The payment worker and the API's webhook endpoint both record through here: whichever comes first wins.
 */
export async function recordOutcomes(sql: Sql, outcomes: readonly PaymentOutcome[], announcements: readonly StagedEvent[]): Promise<Set<string>> {
  if (outcomes.length === 0) return new Set();
  const outbox = outboxColumns(announcements);
  const ids = outcomes.map(({ orderId }) => orderId);
  // `orders` is updated by primary key, `o.id = any(<the batch's ids>)`, not through a join with
  // `recorded` alone that the planner may turn into a scan of the table (see DbOptions.indexLookupsOnly).
  const rows = await sql<{ order_id: string }[]>`
    with outcome as (
      select * from unnest(
        ${ids}::uuid[],
        ${outcomes.map((o) => o.outcome)}::text[],
        ${outcomes.map((o) => o.attempts)}::int[],
        ${outcomes.map((o) => (o.outcome === 'succeeded' ? o.chargeId : null))}::text[],
        ${outcomes.map((o) => (o.outcome === 'failed' ? o.failureReason : null))}::text[],
        ${outcomes.map((o) => o.source)}::text[]
      ) as t(order_id, outcome, attempts, charge_id, failure_reason, source)
    ),
    announcement as (
      select * from unnest(${outbox.eventIds}::uuid[], ${outbox.eventTypes}::text[], ${outbox.streams}::text[], ${outbox.orderIds}::uuid[], ${outbox.events}::jsonb[])
        as a(event_id, event_type, stream, order_id, event)
    ),
    recorded as (
      insert into payment_attempts (order_id, outcome, attempts, charge_id, failure_reason, source)
      select order_id, outcome::payment_outcome, attempts, charge_id, failure_reason, source from outcome
      on conflict do nothing
      returning order_id, outcome
    ),
    moved as (
      update orders o set status = (case when r.outcome = 'succeeded' then 'paid' else 'payment_failed' end)::order_status, updated_at = now()
      from recorded r where o.id = any(${ids}::uuid[]) and o.id = r.order_id
    ),
    announced as (
      insert into outbox (event_id, event_type, stream, order_id, event)
      select a.event_id, a.event_type, a.stream, a.order_id, a.event from announcement a join recorded r on r.order_id = a.order_id
    )
    select order_id from recorded`;
  return new Set(rows.map((row) => row.order_id));
}
