import type { BatchItem, BatchResult, MessageMeta } from './batch-item.ts';
import type { StreamLogger } from './logger.ts';
import type { ProcessingHook } from './processing-hook.ts';
import type { Redis } from './redis.ts';

/**
 * Like kafkajs's `eachBatch`: up to `batchSize` valid entries at once, acknowledged together after it
 * resolves. Throwing fails the whole batch (each entry then follows the failure policy); to fail only
 * some entries, resolve with `{ failed: [{ id, error }] }`. Poison entries never reach it: they are
 * dead-lettered before the call.
 */
export type BatchHandler<Message> = { handleBatch: (batch: BatchItem<Message>[]) => Promise<BatchResult | void>; handle?: never };

/**
 * One entry at a time, like kafkajs's `eachMessage`: run as a batch of one (resolving acknowledges the
 * entry, throwing fails it). Tests and the benchmark use it; the workers take batches.
 */
export type EntryHandler<Message> = { handle: (message: Message, meta: MessageMeta) => Promise<void>; handleBatch?: never };

/**
 * Failures that mean "a dependency is away, not this entry is bad" (PostgreSQL down, breaker open),
 * and how to tell when it is back. They never dead-letter an entry: the consumer leaves it pending,
 * takes no new work until `probe` resolves, then retries it itself.
 */
export interface DependencyRule {
  isTransient: (error: unknown) => boolean;
  probe: () => Promise<unknown>;
}

export interface ConsumerObserver {
  processed(seconds: number): void;
  failed(): void;
  deadLettered(): void;
  claimed(count: number): void;
}

/** Everything but the handler. */
export interface ConsumerSettings<Message> {
  /** Commands: XACK, XAUTOCLAIM, XPENDING, XGROUP, dead-lettering, trimming. */
  redis: Redis;
  /** Only XREADGROUP ... BLOCK, which holds its connection while it waits. */
  blockingRedis: Redis;
  stream: string;
  group: string;
  /** This process's name in the group; each process needs its own. */
  consumerName: string;
  deadLetterStream: string;
  deadLetterMaxLen: number;
  /** Entry fields -> message; throws (PoisonMessage) when the entry is not a valid message. */
  decode: (fields: Record<string, string>) => Message;
  log: StreamLogger;
  /** Entries processed at once. */
  concurrency: number;
  /** Most entries fetched per read, and handed to a batch handler at once. */
  batchSize: number;
  blockMs: number;
  /**
   * Entries idle this long with another consumer are taken over (XAUTOCLAIM). The entries this one
   * works on are kept: their claim is extended every third of it (claim-keeper.ts).
   */
  claimIdleMs: number;
  /**
   * A failing entry is dead-lettered on its maxDeliveries-th delivery. With a retry schedule this counts
   * the deliveries of one attempt (an entry that kills its worker again and again); the schedule counts
   * the attempts that failed.
   */
  maxDeliveries: number;
  /**
   * Delays (ms) before each retry of an entry whose handler failed (not an outage of our own
   * dependencies, which pauses the consumer): the entry waits in the group's delayed set in Redis, holding
   * no handler and no pending entry, and comes back when due (delayed-retries.ts). Jittered; a longer
   * `retryAfterMs` on the error wins. Exhausted: dead-lettered with every attempt's reason. Unset: the
   * entry stays pending for a claim after claimIdleMs, and is dead-lettered on its maxDeliveries-th delivery.
   */
  retrySchedule?: readonly number[];
  /** How often this consumer moves due retries back to the stream (default 1000 ms; sooner when one is due sooner). */
  retryPollMs?: number;
  /** Trim acknowledged entries older than this (undefined: never trim). */
  maxAgeMs?: number;
  /** Without one, every failure is the entry's own. */
  dependency?: DependencyRule;
  /** Milliseconds to hold off taking new entries (0: go). The payment worker returns the open breaker's wait. */
  gate?: () => number;
  /** Fields to put on log lines about a message (order id, request id). */
  logContext?: (message: Message) => Record<string, unknown>;
  /** Told what happens to entries, e.g. to count it in metrics. */
  observer?: ConsumerObserver;
  /** Runs around each handler call, and gives each item its context (see ProcessingHook); the worker runtime traces through it. */
  tracing?: ProcessingHook;
  /** For tests: the clock and the backoff's randomness. */
  now?: () => number;
  random?: () => number;
}

export type ConsumerOptions<Message> = (EntryHandler<Message> | BatchHandler<Message>) & ConsumerSettings<Message>;
