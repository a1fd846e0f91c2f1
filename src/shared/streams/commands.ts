import type { Redis } from './redis.ts';

/** An entry as the runner holds it. */
export interface Entry {
  id: string;
  /** The entry's fields as Redis returns them; null when the entry was deleted while pending. */
  flat: string[] | null;
  /** 1 on first delivery; more when it was claimed from a consumer that failed or died. */
  deliveries: number;
}

type ReadReply = [string, [string, string[]][]][] | null;

/**
 * The Redis Streams commands the runner uses, each with its reply typed and parsed in one place.
 * Every count passed here is at least 1: `COUNT 0` means "no limit" to Redis.
 */
export function streamCommands(redis: Redis, blockingRedis: Redis, { stream, group, consumer }: { stream: string; group: string; consumer: string }) {
  const atLeastOne = (count: number) => Math.max(1, Math.floor(count));

  return {
    /** Creates the group from id 0 (entries published before it existed are still work), with the stream. */
    async createGroup(): Promise<boolean> {
      try {
        await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
        return true;
      } catch (error) {
        if (error instanceof Error && error.message.startsWith('BUSYGROUP')) return false;
        throw error;
      }
    },

    /** New entries (`>`), blocking up to `blockMs` on the blocking connection. */
    async readNew(count: number, blockMs: number): Promise<Entry[]> {
      const reply = (await blockingRedis.xreadgroup('GROUP', group, consumer, 'COUNT', atLeastOne(count), 'BLOCK', blockMs, 'STREAMS', stream, '>')) as ReadReply;
      return (reply?.[0]?.[1] ?? []).map(([id, flat]) => ({ id, flat, deliveries: 1 }));
    },

    /**
     * This consumer's own pending entries (a restart with a fixed CONSUMER_NAME), with their real
     * delivery counts. Reading history counts as a delivery in Redis, which is what it is.
     */
    async readOwnPending(count: number): Promise<Entry[]> {
      const reply = (await redis.xreadgroup('GROUP', group, consumer, 'COUNT', atLeastOne(count), 'STREAMS', stream, '0')) as ReadReply;
      const entries = reply?.[0]?.[1] ?? [];
      const counts = await this.deliveryCounts(entries.map(([id]) => id));
      return entries.map(([id, flat]) => ({ id, flat, deliveries: counts.get(id) ?? 1 }));
    },

    /** Takes over up to `count` entries idle past `minIdleMs`; the cursor goes round the whole pending list. */
    async autoClaim(minIdleMs: number, cursor: string, count: number): Promise<{ next: string; entries: Entry[] }> {
      const [next, claimed] = (await redis.xautoclaim(stream, group, consumer, minIdleMs, cursor, 'COUNT', atLeastOne(count))) as [
        string,
        [string, string[] | null][],
        string[]?,
      ];
      const counts = await this.deliveryCounts(claimed.map(([id]) => id));
      return { next, entries: claimed.map(([id, flat]) => ({ id, flat, deliveries: counts.get(id) ?? 1 })) };
    },

    /**
     * Delivery counts of the given entries, one `XPENDING key group id id 1` each, pipelined: a range
     * query with COUNT n would be filled by this consumer's other pending entries in that range.
     */
    async deliveryCounts(ids: string[]): Promise<Map<string, number>> {
      if (ids.length === 0) return new Map();
      const pipeline = redis.pipeline();
      for (const id of ids) pipeline.xpending(stream, group, id, id, 1);
      const replies = (await pipeline.exec()) ?? [];
      const counts = new Map<string, number>();
      for (const [error, rows] of replies) {
        if (error) throw error;
        const row = (rows as [string, string, number, number][])[0];
        if (row) counts.set(row[0], Number(row[3]));
      }
      return counts;
    },

    /**
     * Of `ids`, takes back those still pending for this consumer, resetting their idle time without
     * counting a delivery; returns them. One script, so the check and the claim are atomic: an entry
     * another consumer claimed meanwhile stays theirs (a bare `XCLAIM ... 0 ... JUSTID` would take it
     * back from whoever holds it). Used to retry entries after an outage, and by the claim keeper to
     * extend the claim on entries still being worked on. One call per stream key, so on a Redis
     * Cluster it runs on the stream's own node.
     */
    async claimIfStillOwned(ids: string[]): Promise<Set<string>> {
      if (ids.length === 0) return new Set();
      const owned = (await redis.eval(CLAIM_IF_OWNED, 1, stream, group, consumer, ...ids)) as string[];
      return new Set(owned);
    },
  };
}

export type StreamCommands = ReturnType<typeof streamCommands>;

const CLAIM_IF_OWNED = `
local claim = { KEYS[1], ARGV[1], ARGV[2], 0 }
for i = 3, #ARGV do
  local row = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])
  if row[1] then claim[#claim + 1] = ARGV[i] end
end
if #claim == 4 then return {} end
claim[#claim + 1] = 'JUSTID'
return redis.call('XCLAIM', unpack(claim))
`;
