-- The plain reference for one order, as issue #13 defines it, for pgbench: in one transaction, read
-- two prices, insert the order, its two items and its outbox row (five statements between BEGIN and
-- COMMIT). It stays this plain SQL, not a copy of whatever the API does: the API's single statement
-- may beat it. pgbench runs it at the same concurrency as the HTTP load, whose orders have the same
-- two lines (bench/wrk-order.lua); orders/s divided by this tps is the ratio we track.
BEGIN;
SELECT id, price_cents, available FROM menu_items WHERE id IN (1, 2);
INSERT INTO orders (id, customer_email, total_cents, request_id) VALUES (gen_random_uuid(), 'pgbench@example.com', 2700, 'pgbench') RETURNING id AS order_id \gset
INSERT INTO order_items (order_id, menu_item_id, name, quantity, unit_price_cents) VALUES (':order_id'::uuid, 1, 'Margherita Pizza', 1, 1250);
INSERT INTO order_items (order_id, menu_item_id, name, quantity, unit_price_cents) VALUES (':order_id'::uuid, 2, 'Pepperoni Pizza', 1, 1450);
INSERT INTO outbox (event_id, event_type, stream, order_id, event)
  VALUES (gen_random_uuid(), 'OrderPlaced', 'orders.placed', ':order_id'::uuid, '{"eventId":"x","type":"OrderPlaced","occurredAt":"x","requestId":"pgbench","payload":{"orderId":"x"}}'::jsonb);
COMMIT;
