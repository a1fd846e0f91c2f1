import type { Sql } from 'postgres';
import type { Delivery, DeliveryChannel, Order, OrderItem, PaymentAttempt } from '../shared/db/schema.ts';

/** An order as a notification tells it, read from PostgreSQL (the event only names the order). */
export interface OrderFacts {
  id: Order['id'];
  customerEmail: Order['customerEmail'];
  totalCents: Order['totalCents'];
  createdAt: Date;
  outcome: PaymentAttempt['outcome'];
  failureReason: PaymentAttempt['failureReason'];
  /** When the payment's outcome was recorded. */
  decidedAt: Date;
  items: Pick<OrderItem, 'menuItemId' | 'name' | 'quantity' | 'unitPriceCents'>[];
  /** This channel's delivery of the order so far; null before its first attempt. */
  delivery: (Pick<Delivery, 'status' | 'attempts'> & { leasedForMs: number }) | null;
}

interface Row {
  id: string;
  customer_email: string;
  total_cents: number;
  created_at: Date;
  outcome: PaymentAttempt['outcome'] | null;
  failure_reason: string | null;
  decided_at: Date | null;
  items: OrderFacts['items'];
  delivery_status: Delivery['status'] | null;
  delivery_attempts: number | null;
  leased_for_ms: number | null;
}

/**
 * The orders of a batch with their lines, payment outcome and this channel's delivery, in one round
 * trip. Every table is reached by its primary key (the workers' pool allows index lookups only).
 * An order without an outcome is left out: `payment.completed` is only emitted with one.
 */
export async function readOrderFacts(sql: Sql, orderIds: readonly string[], channel: DeliveryChannel): Promise<Map<string, OrderFacts>> {
  const rows = await sql<Row[]>`
    select o.id, o.customer_email, o.total_cents, o.created_at,
      p.outcome, p.failure_reason, p.created_at as decided_at,
      coalesce((
        select json_agg(json_build_object('menuItemId', i.menu_item_id, 'name', i.name, 'quantity', i.quantity, 'unitPriceCents', i.unit_price_cents) order by i.menu_item_id)
        from order_items i where i.order_id = o.id
      ), '[]'::json) as items,
      d.status as delivery_status, d.attempts as delivery_attempts,
      greatest(0, extract(epoch from d.sending_until - now()) * 1000)::int as leased_for_ms
    from orders o
    join payment_attempts p on p.order_id = o.id
    left join deliveries d on d.order_id = o.id and d.channel = ${channel}
    where o.id = any(${orderIds as string[]}::uuid[])`;
  return new Map(
    rows.map((row) => [
      row.id,
      {
        id: row.id,
        customerEmail: row.customer_email,
        totalCents: row.total_cents,
        createdAt: new Date(row.created_at),
        outcome: row.outcome!,
        failureReason: row.failure_reason,
        decidedAt: new Date(row.decided_at!),
        items: row.items,
        delivery: row.delivery_status === null ? null : { status: row.delivery_status, attempts: row.delivery_attempts!, leasedForMs: row.leased_for_ms ?? 0 },
      },
    ]),
  );
}
