import { backoffDelay } from '../backoff/backoff.ts';
import type { StreamLogger } from './logger.ts';
import type { Redis } from './redis.ts';
import { createSleeper } from './sleeper.ts';
import { fieldsToRecord } from './stream-id.ts';

export interface TailedEntry {
  id: string;
  fields: Record<string, string>;
}

export interface StreamTailOptions {
  /** A connection of the tail's own: it blocks in XREAD, and stop() closes it to end a read at once. */
  redis: Redis;
  key: string;
  /** How long one XREAD waits for new entries. */
  blockMs: number;
  /** Most entries one read returns. */
  count?: number;
  log: StreamLogger;
  /** New entries, oldest first. Called in the loop: it must not wait on anything. */
  onEntries: (entries: TailedEntry[]) => void;
  /**
   * The tail reads again after it could not: entries written meanwhile may be lost for good (Redis
   * restarted empty, or the writer's own write failed), so whatever they stood for must be looked up
   * at its source.
   */
  onResumed: () => void;
  random?: () => number;
}

type ReadReply = [string, [string, string[]][]][] | null;

/** Retries after a failed read: quick at first, every 2 s at most while Redis stays away. */
const RETRY_BACKOFF = { baseMs: 100, maxMs: 2000, jitter: 'equal' } as const;

/**
 * Every process reading the whole of one stream from now on, with no consumer group: XREAD from the
 * last id seen (never `$` twice: entries written between two reads from `$` would be skipped). No
 * history is read: the stream only says *that* something changed, and where to look it up.
 */
export function createStreamTail({ redis, key, blockMs, count = 1000, log, onEntries, onResumed, random = Math.random }: StreamTailOptions) {
  const sleeper = createSleeper();
  let stopping = false;
  let loop: Promise<void> | undefined;
  let failures = 0;
  let lastError: string | undefined;
  // Lost, and not yet caught up. A read failing is not the only sign: ioredis sends a blocked XREAD
  // again on the new connection after a short outage, so the read never fails, but Redis may have
  // restarted empty meanwhile. The connection closing is the sign.
  let lost = false;

  function resumed() {
    if (!lost || stopping) return;
    lost = false;
    log.info({ stream: key, failures }, 'reading the stream again; catching up from the source');
    onResumed();
  }
  const onClose = () => {
    if (!stopping) lost = true;
  };
  redis.on('close', onClose);
  redis.on('ready', resumed);

  /** The id of the newest entry, or 0-0 for a stream that does not exist yet: reading starts after it. */
  async function newestId(): Promise<string> {
    const [newest] = (await redis.xrevrange(key, '+', '-', 'COUNT', 1)) as [string, string[]][];
    return newest?.[0] ?? '0-0';
  }

  async function run(): Promise<void> {
    let lastId: string | undefined;
    while (!stopping) {
      try {
        lastId ??= await newestId();
        // After a failure, a read that does not block, so the catch-up starts as soon as Redis answers.
        const reply = (
          failures > 0 ? await redis.xread('COUNT', count, 'STREAMS', key, lastId) : await redis.xread('COUNT', count, 'BLOCK', blockMs, 'STREAMS', key, lastId)
        ) as ReadReply;
        resumed();
        failures = 0;
        lastError = undefined;
        const entries = reply?.[0]?.[1] ?? [];
        if (entries.length === 0) continue;
        lastId = entries.at(-1)![0];
        onEntries(entries.map(([id, flat]) => ({ id, fields: fieldsToRecord(flat) })));
      } catch (error) {
        if (stopping) break;
        lost = true;
        failures++;
        lastError = error instanceof Error ? error.message : String(error);
        // The first failure of an outage is worth a line; ioredis logs the connection's own state.
        if (failures === 1) log.warn({ stream: key, err: { message: lastError } }, 'cannot read the stream; retrying');
        await sleeper.sleep(backoffDelay(failures, RETRY_BACKOFF, random));
      }
    }
  }

  return {
    start(): void {
      loop ??= run();
    },
    /** Ends the loop, closing the connection so a blocked XREAD ends now rather than after blockMs. */
    async stop(): Promise<void> {
      stopping = true;
      redis.off('close', onClose);
      redis.off('ready', resumed);
      sleeper.wake();
      redis.disconnect();
      await loop;
    },
    status: () => ({ reading: loop !== undefined && !stopping && failures === 0, failures, lastError }),
  };
}

export type StreamTail = ReturnType<typeof createStreamTail>;
