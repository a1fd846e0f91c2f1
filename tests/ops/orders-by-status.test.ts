import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { sql } from 'drizzle-orm';
import { ordersByStatus, ordersByStatusQuery } from '../../src/shared/ops/orders-by-status.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { allowSlowTests } from '../helpers/slow.ts';

allowSlowTests();

let tdb: TestDatabase;

const OLD_ORDERS = 60_000;

beforeAll(async () => {
  tdb = await createTestDatabase('orders_by_status');
  // A month of history, one order every ~43 s, none in the last hour...
  await tdb.db.execute(sql`
    insert into orders (id, customer_email, status, total_cents, request_id, created_at, updated_at)
    select gen_random_uuid(), 'old-' || i || '@example.com', (array['paid', 'payment_failed', 'paid', 'paid']::order_status[])[1 + i % 4],
           1250, 'bulk-' || i, now() - interval '1 hour' - (i * interval '43 seconds'), now()
    from generate_series(1, ${OLD_ORDERS}) as i`);
  // ...and the last few minutes: 3 paid two minutes ago, 2 still processing now.
  await tdb.db.execute(sql`
    insert into orders (id, customer_email, status, total_cents, request_id, created_at, updated_at)
    values (gen_random_uuid(), 'a@example.com', 'paid', 1250, 'r1', date_trunc('minute', now()) - interval '2 minutes', now()),
           (gen_random_uuid(), 'b@example.com', 'paid', 1250, 'r2', date_trunc('minute', now()) - interval '2 minutes', now()),
           (gen_random_uuid(), 'c@example.com', 'paid', 1250, 'r3', date_trunc('minute', now()) - interval '2 minutes', now()),
           (gen_random_uuid(), 'd@example.com', 'processing', 1250, 'r4', date_trunc('minute', now()), now()),
           (gen_random_uuid(), 'e@example.com', 'processing', 1250, 'r5', date_trunc('minute', now()), now())`);
  // Statistics and the visibility map, as autovacuum would leave them on a live table.
  await tdb.db.execute(sql`vacuum analyze orders`);
});
afterAll(() => tdb.drop());

describe("the operations page's orders by status", () => {
  it('reads only the last minutes of the created_at index, never the whole orders table', async () => {
    const plan = (await tdb.db.execute<{ 'QUERY PLAN': string }>(sql`explain ${ordersByStatusQuery(15)}`)).map((row) => row['QUERY PLAN']).join('\n');
    expect(plan).not.toContain('Seq Scan on orders');
    expect(plan).toMatch(/Index (Only )?Scan using orders_created_at_status_idx on orders/);
    expect(plan).toMatch(/Index Cond: \(created_at >= /);
  });

  it('counts each minute by status, the quiet minutes included', async () => {
    const buckets = await ordersByStatus(tdb.db, 15);
    expect(buckets).toHaveLength(15);
    const totals = buckets.reduce((sum, b) => ({ paid: sum.paid + b.paid, failed: sum.failed + b.payment_failed, processing: sum.processing + b.processing }), {
      paid: 0,
      failed: 0,
      processing: 0,
    });
    expect(totals).toEqual({ paid: 3, failed: 0, processing: 2 });
  });
});
