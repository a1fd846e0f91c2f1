import type { Redis } from './redis.ts';
import { fieldsToRecord, minStreamId } from './stream-id.ts';

/**
 * Trims entries older than `maxAgeMs`, but never one that a consumer group has not yet
 * been delivered or has not acknowledged: the cut is the smallest of the age cut, each group's
 * last-delivered id and each group's oldest pending id. With no group yet, nothing is trimmed.
 * Returns the number of entries removed.
 */
export async function trimAcknowledged(redis: Redis, stream: string, maxAgeMs: number, now = Date.now()): Promise<number> {
  const groups = (await redis.xinfo('GROUPS', stream)) as string[][];
  if (groups.length === 0) return 0;
  let cut = `${Math.max(0, now - maxAgeMs)}-0`;
  for (const raw of groups) {
    const group = fieldsToRecord(raw.map(String));
    cut = minStreamId(cut, group['last-delivered-id'] ?? '0-0');
    if (Number(group.pending) > 0) {
      const summary = (await redis.xpending(stream, group.name!)) as [number, string | null, string | null, unknown];
      if (summary[1]) cut = minStreamId(cut, summary[1]);
    }
  }
  // MINID keeps every entry whose id is >= cut.
  return Number(await redis.xtrim(stream, 'MINID', cut));
}
