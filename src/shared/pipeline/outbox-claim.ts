import { sql, type SQL } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { outbox } from '../db/schema.ts';
import type { EventBase } from './events.ts';

export type ClaimedRow = { id: number; stream: string; order_id: string; event: EventBase };

/**
 * The relay's claim as the two statements it runs in its transaction, exported so a test can
 * EXPLAIN exactly them.
 *
 * `claim` takes the oldest unpublished rows and marks them published in one statement. It must read
 * `outbox_unpublished_idx` as a plain index scan in id order: LIMIT stops it after `batchSize` live
 * rows, and an index scan marks the entries of rows published earlier dead as it passes them (bitmap
 * scans never do), so the next claim skips them without visiting the table. Left to itself, the planner
 * may take a bitmap scan plus a sort when it believes few rows are unpublished (it did on a young,
 * unanalyzed table in `bun run bench`): that scan returns every entry published since the last vacuum,
 * thousands per claim, and keeps doing so. `settings` rules the bitmap and sequential scans out for
 * this transaction only (set_config(..., true) is SET LOCAL), whatever the statistics; sent with the
 * claim (see claimUnpublished), it costs no round trip of its own.
 */
export function claimStatements(batchSize: number): { settings: SQL; claim: SQL } {
  return {
    settings: sql`select set_config('enable_bitmapscan', 'off', true), set_config('enable_seqscan', 'off', true)`,
    claim: sql`
      update ${outbox} set published_at = now()
      where ${outbox.id} in (
        select ${outbox.id} from ${outbox} where ${outbox.publishedAt} is null order by ${outbox.id} limit ${batchSize} for update skip locked
      )
      returning ${outbox.id} as id, ${outbox.stream} as stream, ${outbox.orderId} as order_id, ${outbox.event} as event`,
  };
}

/**
 * Claims up to `batchSize` unpublished rows, oldest first, and marks them published in the caller's
 * transaction. The settings and the claim are sent together: on the transaction's one connection
 * postgres.js pipelines them, and PostgreSQL runs them in the order sent, so the claim is still planned
 * with the settings in force, one round trip (and one wake-up of the backend) instead of two. Every
 * relay claim paid that round trip: about two per order at an everyday rate (`bun run bench --only pg`).
 */
export async function claimUnpublished(tx: Tx, batchSize: number): Promise<ClaimedRow[]> {
  const { settings, claim } = claimStatements(batchSize);
  const [, rows] = await Promise.all([tx.execute(settings), tx.execute<ClaimedRow>(claim)]);
  return [...rows];
}
