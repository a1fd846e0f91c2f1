import type { StreamLogger } from './logger.ts';
import type { Redis } from './redis.ts';

/**
 * Batches acknowledgements: every entry finished in the same tick goes out in one XACK, without
 * waiting for the consumer loop, which may be blocked in XREADGROUP on its other connection.
 */
export function createAckBatcher({ redis, stream, group, log }: { redis: Redis; stream: string; group: string; log: StreamLogger }) {
  let pending: string[] = [];
  let scheduled: Promise<void> | undefined;

  async function flush(): Promise<void> {
    scheduled = undefined;
    if (pending.length === 0) return;
    const ids = pending;
    pending = [];
    try {
      await redis.xack(stream, group, ...ids);
    } catch (error) {
      // The work is committed; a redelivered entry finds it done, so this costs a retry, not a double effect.
      log.warn({ err: error, entries: ids.length }, 'could not acknowledge; the entries will be redelivered');
    }
  }

  return {
    add(id: string): void {
      pending.push(id);
      scheduled ??= new Promise<void>((resolve) => setImmediate(resolve)).then(flush);
    },
    /** Sends whatever is waiting now (on shutdown). */
    flush,
  };
}
