-- The SQL one POST /orders costs in PostgreSQL, for pgbench: the menu lookup, then the order, its
-- items and its outbox row in one transaction, statement for statement as in
-- src/api/services/place-order.ts. pgbench runs it at the same concurrency as the HTTP load;
-- orders/s divided by this tps is the ratio we track from machine to machine.
\set item random(1, 12)
BEGIN;
SELECT id, name, description, price_cents, available, created_at FROM menu_items WHERE id IN (:item);
INSERT INTO orders (id, customer_email, total_cents, request_id) VALUES (gen_random_uuid(), 'pgbench@example.com', 1250, 'pgbench') RETURNING id AS order_id \gset
INSERT INTO order_items (order_id, menu_item_id, name, quantity, unit_price_cents) VALUES (':order_id'::uuid, :item, 'Margherita Pizza', 1, 1250) RETURNING *;
INSERT INTO outbox (event_id, event_type, stream, order_id, fields)
  VALUES (gen_random_uuid(), 'OrderPlaced', 'orders.placed', ':order_id'::uuid, '{"type":"OrderPlaced","orderId":"x","totalCents":"1250","items":"[]"}'::jsonb);
COMMIT;
