import { sql } from 'drizzle-orm';
import type { Database } from '../../src/shared/db/client.ts';
import { percentiles, type Percentiles } from './stats.ts';

export interface Window {
  from: Date;
  to: Date;
}

export interface PipelineFigures {
  /** Orders the database holds from the window. */
  orders: number;
  /** Notifications written while the load ran, per second of it: what the pipeline kept up with. */
  notifiedPerSecondDuringLoad: number;
  /** The window's orders over the time from its start to the last of them notified (drain included). */
  notifiedPerSecondWithDrain: number;
  /** Seconds after the load stopped until the window's last order was notified. */
  drainSeconds: number;
  toPaidMs: Percentiles;
  toNotifiedMs: Percentiles;
  /** The window's orders not notified when we stopped waiting. */
  unfinished: number;
}

/**
 * Waits until every order placed in the window is notified (or `timeoutMs`), then reads each
 * journey from the database's own timestamps: orders.created_at -> payment_attempts.created_at ->
 * orders.notified_at (the e-mail delivery's sent_at), all stamped by PostgreSQL's clock. `emailLike` keeps only the bench's
 * orders when the system is shared (`--url`).
 */
export async function pipelineFigures(db: Database, window: Window, { emailLike = 'bench%@example.com', timeoutMs = 180_000 } = {}): Promise<PipelineFigures> {
  const from = window.from.toISOString();
  const to = window.to.toISOString();
  const mine = sql`o.created_at >= ${from}::timestamptz and o.created_at < ${to}::timestamptz and o.customer_email like ${emailLike}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await db.execute<{ waiting: number }>(sql`select count(*)::int as waiting from orders o where ${mine} and o.notified_at is null`);
    if (row!.waiting === 0 || Date.now() > deadline) break;
    await Bun.sleep(250);
  }
  const rows = await db.execute<{ paid_ms: number | null; notified_ms: number | null; notified_at: string | null }>(sql`
    select extract(epoch from (p.created_at - o.created_at)) * 1000 as paid_ms,
           extract(epoch from (o.notified_at - o.created_at)) * 1000 as notified_ms,
           o.notified_at as notified_at
    from orders o
    left join payment_attempts p on p.order_id = o.id
    where ${mine}`);
  const seconds = (window.to.getTime() - window.from.getTime()) / 1000;
  const notifiedAt = rows.flatMap((r) => (r.notified_at === null ? [] : [new Date(r.notified_at).getTime()]));
  const last = notifiedAt.length > 0 ? Math.max(...notifiedAt) : Number.NaN;
  const duringLoad = notifiedAt.filter((t) => t < window.to.getTime()).length;
  return {
    orders: rows.length,
    notifiedPerSecondDuringLoad: duringLoad / seconds,
    notifiedPerSecondWithDrain: notifiedAt.length / ((Math.max(last, window.to.getTime()) - window.from.getTime()) / 1000),
    drainSeconds: Math.max(0, (last - window.to.getTime()) / 1000),
    toPaidMs: percentiles(rows.flatMap((r) => (r.paid_ms === null ? [] : [Number(r.paid_ms)]))),
    toNotifiedMs: percentiles(rows.flatMap((r) => (r.notified_ms === null ? [] : [Number(r.notified_ms)]))),
    unfinished: rows.length - notifiedAt.length,
  };
}
