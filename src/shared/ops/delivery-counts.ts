import { Type, type Static } from '@sinclair/typebox';
import { sql } from 'drizzle-orm';
import type { Database } from '../db/client.ts';
import { deliveryChannel } from '../db/schema.ts';

export const DeliveryCount = Type.Object({
  channel: Type.Union(deliveryChannel.enumValues.map((channel) => Type.Literal(channel))),
  waiting: Type.Integer({ description: 'Deliveries not sent yet and not failed: being sent, or waiting for their next attempt' }),
  failed: Type.Integer({ description: 'Deliveries failed for good: refused (an SMTP 5xx), or every retry spent' }),
  oldestWaitingSince: Type.Union([Type.String(), Type.Null()], { description: 'When the longest-waiting of them was first asked for (ISO time)' }),
});
export type DeliveryCount = Static<typeof DeliveryCount>;

/**
 * The notification deliveries not sent, per channel (every channel, zeros included), read through the
 * index that holds exactly those rows (deliveries_unsent_idx): a scrape costs what waits and failed,
 * not every order ever told.
 */
export async function deliveryCounts(db: Database): Promise<DeliveryCount[]> {
  const rows = await db.execute<{ channel: DeliveryCount['channel']; waiting: number; failed: number; oldest: Date | string | null }>(sql`
    select channel::text as channel,
      count(*) filter (where status = 'pending')::int as waiting,
      count(*) filter (where status = 'failed')::int as failed,
      min(created_at) filter (where status = 'pending') as oldest
    from deliveries where status <> 'sent' group by channel`);
  return deliveryChannel.enumValues.map((channel) => {
    const row = rows.find((r) => r.channel === channel);
    return { channel, waiting: row?.waiting ?? 0, failed: row?.failed ?? 0, oldestWaitingSince: row?.oldest ? new Date(row.oldest).toISOString() : null };
  });
}
