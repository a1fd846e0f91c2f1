import type { Logger } from '../runtime/log.ts';
import type { Redis } from '../runtime/redis.ts';
import { createStreamTail, type StreamTail } from '../streams/stream-tail.ts';
import { streamKey } from './topology.ts';

/**
 * Where writers say an order changed, for every API replica following it live (GET /orders/{id}/events).
 * Not an event of the topology table: no consumer group reads it and nothing is dead-lettered from it;
 * each API process tails all of it. An entry is `{ orderId }` and nothing else: the order is read
 * from PostgreSQL, so there is no customer data in Redis and no copy to keep in step. One key (one
 * slot on a Redis Cluster), whatever STREAM_PARTITIONS says.
 */
export const ORDER_CHANGES_STREAM = 'orders.changed';

/** Entries only need to live until every replica has read them (milliseconds); a reader that was away catches up from PostgreSQL. */
const MAX_LEN = 10_000;

/** Orders whose announcement failed, kept for the next try; past this the readers' catch-up has to cover them. */
const MAX_UNSENT = 10_000;

export function orderChangesKey(prefix: string): string {
  return streamKey(prefix, ORDER_CHANGES_STREAM);
}

export interface OrderChanges {
  /**
   * Says that these orders changed, after the commit that changed them. Best effort, never throws and
   * never waits: Redis away must not fail a write that is already committed. What could not be said
   * is said again with the next announcement or when the connection is back.
   */
  announce(orderIds: Iterable<string>): void;
}

/** The writing side: the payment worker, the notify worker and the API's provider webhook each make one. */
export function createOrderChanges({ redis, prefix, log }: { redis: Redis; prefix: string; log: Logger }): OrderChanges {
  const key = orderChangesKey(prefix);
  const unsent = new Set<string>();
  let failing = false;
  let retryOnReady = false;

  function announce(orderIds: Iterable<string>) {
    const batch = new Set([...unsent, ...orderIds]);
    if (batch.size === 0) return;
    unsent.clear();
    const pipeline = redis.pipeline();
    for (const orderId of batch) pipeline.xadd(key, 'MAXLEN', '~', MAX_LEN, '*', 'orderId', orderId);
    void pipeline.exec().then(
      (results) => {
        const failed = [...batch].filter((_, i) => results?.[i]?.[0]);
        if (failed.length === 0) return recovered();
        keep(failed, results!.find(([error]) => error)![0]!);
      },
      (error: unknown) => keep(batch, error),
    );
  }

  function keep(orderIds: Iterable<string>, error: unknown) {
    for (const orderId of orderIds) if (unsent.size < MAX_UNSENT) unsent.add(orderId);
    if (!failing) {
      failing = true;
      log.warn({ err: { message: (error as Error)?.message ?? String(error) }, stream: key, waiting: unsent.size }, 'cannot announce order changes; retrying when Redis is back');
    }
    // The connection coming back may be the only thing that happens for a while.
    if (retryOnReady) return;
    retryOnReady = true;
    redis.once('ready', () => {
      retryOnReady = false;
      announce([]);
    });
  }

  function recovered() {
    if (!failing) return;
    failing = false;
    log.info({ stream: key }, 'announcing order changes again');
  }

  return { announce };
}

export interface OrderChangeFeedOptions {
  /** A connection of the feed's own (it blocks in XREAD); stop() closes it. */
  redis: Redis;
  prefix: string;
  blockMs: number;
  log: Logger;
  /** Orders that changed, as announced. */
  onChanged: (orderIds: string[]) => void;
  /** The feed reads again after Redis was away: any order may have changed meanwhile unannounced. */
  onResumed: () => void;
}

/** The reading side: one per API process, fanning out to that process's open streams. */
export function createOrderChangeFeed({ redis, prefix, blockMs, log, onChanged, onResumed }: OrderChangeFeedOptions): StreamTail {
  return createStreamTail({
    redis,
    key: orderChangesKey(prefix),
    blockMs,
    log,
    onResumed,
    onEntries: (entries) => onChanged(entries.flatMap(({ fields }) => (fields.orderId ? [fields.orderId] : []))),
  });
}
