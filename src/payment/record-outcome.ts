import type { Database } from '../shared/db/client.ts';
import type { Order } from '../shared/db/schema.ts';
import { paymentCompletedEvent } from '../shared/pipeline/order-events.ts';
import { Events } from '../shared/pipeline/events.ts';
import type { PaymentResult } from './charge.ts';

export type OrderFacts = Pick<Order, 'id' | 'customerEmail' | 'totalCents' | 'requestId'>;

/**
 * One statement for a whole batch: each order's payment attempt, its new status and its
 * `payment.completed` outbox row, atomically. An order that already had an outcome (another
 * worker, or an earlier delivery, got there first) gets nothing written. Returns the ids of the
 * orders whose outcome was recorded now. Each outbox row's fields carry the `traceparent` given with
 * its outcome (the context of its publish span), when tracing is on.
 */
export async function recordOutcomes(db: Database, outcomes: { order: OrderFacts; result: PaymentResult; traceparent?: string }[]): Promise<Set<string>> {
  if (outcomes.length === 0) return new Set();
  const events = outcomes.map(({ order, result, traceparent }) =>
    paymentCompletedEvent(
      order,
      {
        outcome: result.outcome,
        attempts: result.attempts,
        chargeId: result.outcome === 'succeeded' ? result.chargeId : null,
        failureReason: result.outcome === 'failed' ? result.failureReason : null,
      },
      { traceparent },
    ),
  );
  const sql = db.$client;
  // `orders` is updated by primary key, `o.id = any(<the batch's ids>)`, not through a join with
  // `recorded` alone that the planner may turn into a scan of the table (see DbOptions.indexLookupsOnly).
  const rows = await sql<{ order_id: string }[]>`
    with outcome as (
      select * from unnest(
        ${outcomes.map(({ order }) => order.id)}::uuid[],
        ${outcomes.map(({ result }) => result.outcome)}::text[],
        ${outcomes.map(({ result }) => result.attempts)}::int[],
        ${outcomes.map(({ result }) => (result.outcome === 'succeeded' ? result.chargeId : null))}::text[],
        ${outcomes.map(({ result }) => (result.outcome === 'failed' ? result.failureReason : null))}::text[],
        ${events.map((event) => event.eventId)}::uuid[],
        ${events.map((event) => JSON.stringify(Events.paymentCompleted.toFields(event)))}::text[]
      ) as t(order_id, outcome, attempts, charge_id, failure_reason, event_id, fields)
    ),
    recorded as (
      insert into payment_attempts (order_id, outcome, attempts, charge_id, failure_reason)
      select order_id, outcome::payment_outcome, attempts, charge_id, failure_reason from outcome
      on conflict do nothing
      returning order_id, outcome
    ),
    moved as (
      update orders o set status = (case when r.outcome = 'succeeded' then 'paid' else 'payment_failed' end)::order_status, updated_at = now()
      from recorded r where o.id = any(${outcomes.map(({ order }) => order.id)}::uuid[]) and o.id = r.order_id
    ),
    announced as (
      insert into outbox (event_id, event_type, stream, order_id, fields)
      select t.event_id, ${Events.paymentCompleted.type}, ${Events.paymentCompleted.stream}, t.order_id, t.fields::jsonb
      from outcome t join recorded r on r.order_id = t.order_id
    )
    select order_id from recorded`;
  return new Set(rows.map((row) => row.order_id));
}
