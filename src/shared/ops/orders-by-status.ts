import { Type, type Static, type TInteger, type TString } from '@sinclair/typebox';
import { sql } from 'drizzle-orm';
import { orderStatus, type OrderStatus } from '../db/schema.ts';
import type { Database } from '../db/client.ts';

/** Orders placed in one minute, counted by their status now: one column per `order_status` value. */
export const StatusBucket = Type.Object({
  minute: Type.String(),
  ...Object.fromEntries(orderStatus.enumValues.map((status) => [status, Type.Integer()])),
} as { minute: TString } & Record<OrderStatus, TInteger>);
export type StatusBucket = Static<typeof StatusBucket>;

const isOrderStatus = (status: string): status is OrderStatus => (orderStatus.enumValues as string[]).includes(status);

/**
 * The counting query, on its own so a test can EXPLAIN exactly it. It reads only the last minutes'
 * slice of `orders_created_at_status_idx` (an index-only scan: both columns are in the index), so its
 * cost follows the orders of the last quarter hour, not the whole table, on every 2-second poll.
 */
export function ordersByStatusQuery(minutes: number) {
  return sql`
    select to_char(date_trunc('minute', created_at) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI"Z"') as minute, status::text as status, count(*)::int as n
    from orders
    where created_at >= date_trunc('minute', now()) - make_interval(mins => ${minutes - 1})
    group by 1, 2`;
}

/** Orders placed in each of the last `minutes` minutes, by their current status: the ops page's chart. */
export async function ordersByStatus(db: Database, minutes: number): Promise<StatusBucket[]> {
  const rows = await db.execute<{ minute: string; status: string; n: number }>(ordersByStatusQuery(minutes));
  const buckets: StatusBucket[] = [];
  const now = new Date();
  now.setUTCSeconds(0, 0);
  for (let i = minutes - 1; i >= 0; i--) {
    const minute = new Date(now.getTime() - i * 60_000).toISOString().slice(0, 16) + 'Z';
    buckets.push({ minute, ...(Object.fromEntries(orderStatus.enumValues.map((status) => [status, 0])) as Record<OrderStatus, number>) });
  }
  for (const row of rows) {
    const bucket = buckets.find((b) => b.minute === row.minute);
    if (bucket && isOrderStatus(row.status)) bucket[row.status] = row.n;
  }
  return buckets;
}
