import type { Database } from '../../src/shared/db/client.ts';

/**
 * Gives a fresh system's database the past of a running one before any service starts: `orders`
 * finished orders (items, payment, gateway charge, notification) from two hours ago, their outbox
 * rows published half an hour ago (inside OUTBOX_RETENTION_MS, so the relay's purge leaves them),
 * then VACUUM ANALYZE, as autovacuum would have done by then. Without it every run starts on empty
 * tables, and the plans PostgreSQL caches for the services' prepared statements and foreign-key
 * checks are made for empty tables (sequential scans, hash joins) and kept as the tables grow.
 * The history's e-mail is not the bench's, so no figure counts these orders.
 */
export async function addHistory(db: Database, orders: number): Promise<void> {
  if (orders <= 0) return;
  const sql = db.$client;
  await sql`
    with placed as (
      insert into orders (id, customer_email, status, total_cents, request_id, created_at, updated_at, notified_at)
      select gen_random_uuid(), 'history@example.com', 'paid', 1250, 'history', t, t, t
      from (select now() - interval '2 hours' + g * interval '1 ms' as t from generate_series(1, ${orders}::int) g) s
      returning id, created_at
    ),
    items as (
      insert into order_items (order_id, menu_item_id, name, quantity, unit_price_cents)
      select p.id, m.id, m.name, 1, m.price_cents from placed p, (select id, name, price_cents from menu_items order by id limit 1) m
    ),
    charges as (
      insert into gateway_charges (id, idempotency_key, amount_cents, status, created_at)
      select 'ch_history_' || replace(id::text, '-', ''), id::text, 1250, 'succeeded', created_at from placed
    ),
    paid as (
      insert into payment_attempts (order_id, outcome, attempts, charge_id, created_at)
      select id, 'succeeded', 1, 'ch_history_' || replace(id::text, '-', ''), created_at from placed
    ),
    told as (
      insert into deliveries (order_id, channel, status, recipient, outcome, attempts, event_id, request_id, sent_at, created_at, updated_at)
      select id, 'email', 'sent', 'history@example.com', 'succeeded', 1, gen_random_uuid(), 'history', created_at, created_at, created_at from placed
    )
    insert into outbox (event_id, event_type, stream, order_id, event, created_at, published_at)
    select gen_random_uuid(), e.type, e.stream, p.id, '{}'::jsonb, now() - interval '30 minutes', now() - interval '30 minutes'
    from placed p cross join (values ('OrderPlaced', 'orders.placed'), ('PaymentCompleted', 'payment.completed')) as e(type, stream)`;
  await sql`vacuum analyze`;
}
