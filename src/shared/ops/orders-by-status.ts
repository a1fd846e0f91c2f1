import { sql } from 'drizzle-orm';
import type { Database } from '../db/client.ts';

export interface StatusBucket {
  minute: string;
  processing: number;
  paid: number;
  payment_failed: number;
}

/** Orders placed in each of the last `minutes` minutes, by their current status: the ops page's chart. */
export async function ordersByStatus(db: Database, minutes: number): Promise<StatusBucket[]> {
  const rows = await db.execute<{ minute: string; status: string; n: number }>(sql`
    select to_char(date_trunc('minute', created_at) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI"Z"') as minute, status::text as status, count(*)::int as n
    from orders
    where created_at >= date_trunc('minute', now()) - make_interval(mins => ${minutes - 1})
    group by 1, 2`);
  const buckets: StatusBucket[] = [];
  const now = new Date();
  now.setUTCSeconds(0, 0);
  for (let i = minutes - 1; i >= 0; i--) {
    const minute = new Date(now.getTime() - i * 60_000).toISOString().slice(0, 16) + 'Z';
    buckets.push({ minute, processing: 0, paid: 0, payment_failed: 0 });
  }
  for (const row of rows) {
    const bucket = buckets.find((b) => b.minute === row.minute);
    if (bucket && (row.status === 'processing' || row.status === 'paid' || row.status === 'payment_failed')) bucket[row.status] = row.n;
  }
  return buckets;
}
