import { PoisonMessage } from './poison-message.ts';
import type { StreamLogger } from './logger.ts';
import { isNoGroupError, type Redis } from './redis.ts';
import { deadLetter } from './dead-letter.ts';
import { fieldsToRecord } from './stream-id.ts';
import { trimAcknowledged } from './trim.ts';
import { createAckBatcher } from './ack-batcher.ts';
import { createWorkSlots, type Entry } from './work-slots.ts';

export interface MessageMeta {
  /** The entry id in the stream. */
  id: string;
  /** 1 on first delivery; more when the entry was claimed from a consumer that failed or died. */
  deliveries: number;
}

export interface ConsumerOptions<Message> {
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
  /** Does the work. Resolving means committed: only then is the entry acknowledged. */
  handle: (message: Message, meta: MessageMeta) => Promise<void>;
  log: StreamLogger;
  /** Entries processed at once. */
  concurrency: number;
  /** Entries fetched per read. */
  batchSize: number;
  blockMs: number;
  /** Entries idle this long with another consumer are taken over (XAUTOCLAIM). */
  claimIdleMs: number;
  /** A failing entry is dead-lettered on its maxDeliveries-th delivery. */
  maxDeliveries: number;
  /** Trim acknowledged entries older than this (undefined: never trim). */
  maxAgeMs?: number;
  /**
   * Failures that mean "a dependency is away, not this entry is bad" (PostgreSQL down, breaker open).
   * They never dead-letter an entry: the consumer pauses until `probe` succeeds and leaves the entry pending.
   */
  isTransient?: (error: unknown) => boolean;
  /** Resolves when the dependencies are back after a transient failure; rejects while they are not. */
  probe?: () => Promise<unknown>;
  /** Milliseconds to hold off taking new entries (0: go). The payment worker returns the open breaker's wait. */
  gate?: () => number;
  /** Fields to put on log lines about a message (order id, request id). */
  logContext?: (message: Message) => Record<string, unknown>;
  /** Told what happens to entries, e.g. to count it in metrics. */
  observer?: ConsumerObserver;
}

export interface ConsumerObserver {
  processed(seconds: number): void;
  failed(): void;
  deadLettered(): void;
  claimed(count: number): void;
}

export type ConsumerState = 'idle' | 'running' | 'paused' | 'reconnecting' | 'stopping' | 'stopped';

export interface ConsumerStatus {
  state: ConsumerState;
  /** Whether the last Redis call succeeded. */
  redisOk: boolean;
  /** Why the consumer is holding off, when it is. */
  pausedBecause?: string;
  inflight: number;
  processed: number;
  failed: number;
  deadLettered: number;
  claimed: number;
  lastError?: string;
}

export interface Consumer {
  /** Runs until `stop()`; never rejects. */
  start(): Promise<void>;
  /**
   * Stops reading, waits up to `timeoutMs` for in-flight entries, flushes acknowledgements.
   * Entries still running at the deadline stay pending and are claimed by another consumer later.
   */
  stop(timeoutMs: number): Promise<{ unfinished: number }>;
  status(): ConsumerStatus;
}

const MAX_BACKOFF_MS = 5000;

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * A Redis Streams consumer-group runner shared by every worker: read in batches, process with
 * bounded concurrency, acknowledge only after the handler committed, take over entries from dead
 * consumers, dead-letter what cannot be processed, and ride out Redis and PostgreSQL outages.
 */
export function createConsumer<Message>(options: ConsumerOptions<Message>): Consumer {
  const { redis, blockingRedis, stream, group, consumerName: consumer } = options;
  const log = options.log.child({ stream, group, consumer });
  const isTransient = options.isTransient ?? (() => false);
  const claimEveryMs = Math.max(50, Math.min(options.claimIdleMs / 2, 5000));
  const trimEveryMs = 60_000;

  // The buffer holds at most one round of slots, so several replicas share a backlog instead of
  // one of them hoarding a whole batch.
  const slots = createWorkSlots({ concurrency: options.concurrency, bufferSize: Math.min(options.batchSize, options.concurrency), run: (entry) => process(entry) });
  const acks = createAckBatcher({ redis, stream, group, log });
  // Entries that failed only because a dependency was away: retried by this consumer once it is
  // back, rather than claimed again, so an outage does not count against MAX_DELIVERIES.
  const awaitingRetry = new Map<string, { flat: string[]; deliveries: number }>();
  let state: ConsumerState = 'idle';
  let running = false;
  let groupReady = false;
  let dependencyDown = false;
  let redisOk = false;
  let pausedBecause: string | undefined;
  let lastError: string | undefined;
  let failuresInARow = 0;
  let nextClaimAt = 0;
  let nextTrimAt = 0;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  const counts = { processed: 0, failed: 0, deadLettered: 0, claimed: 0 };

  /** A sleep that stop() cuts short. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  async function ensureGroup() {
    try {
      // From id 0, not $: entries published before the group existed are still work to do.
      await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
      log.info('created consumer group');
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('BUSYGROUP'))) throw error;
    }
    groupReady = true;
  }

  async function sendToDeadLetter(id: string, fields: Record<string, string>, error: string, deliveries: number) {
    try {
      await deadLetter(
        { redis, deadLetterStream: options.deadLetterStream, maxLen: options.deadLetterMaxLen },
        { originalStream: stream, originalId: id, group, consumer, error, deliveries, fields },
      );
      counts.deadLettered++;
      options.observer?.deadLettered();
      log.error({ entry_id: id, deliveries, error, dead_letter_stream: options.deadLetterStream }, 'entry dead-lettered');
    } catch (err) {
      log.warn({ err, entry_id: id }, 'could not dead-letter; the entry stays pending');
    }
  }

  async function process({ id, flat, deliveries }: Entry): Promise<void> {
    const started = performance.now();
    // XAUTOCLAIM hands back a nil body for an entry deleted while it was pending: nothing left to do.
    if (flat === null) return acks.add(id);
    const fields = fieldsToRecord(flat);
    let message: Message;
    try {
      message = options.decode(fields);
    } catch (error) {
      counts.failed++;
      return await sendToDeadLetter(id, fields, describe(error), deliveries);
    }
    try {
      await options.handle(message, { id, deliveries });
      counts.processed++;
      acks.add(id);
      options.observer?.processed((performance.now() - started) / 1000);
    } catch (error) {
      counts.failed++;
      options.observer?.failed();
      const context = { ...options.logContext?.(message), entry_id: id, deliveries };
      if (error instanceof PoisonMessage) return await sendToDeadLetter(id, fields, describe(error), deliveries);
      if (isTransient(error)) {
        dependencyDown = true;
        state = 'paused';
        pausedBecause = 'dependency unavailable';
        lastError = describe(error);
        awaitingRetry.set(id, { flat, deliveries });
        log.warn({ ...context, err: error }, 'dependency unavailable; pausing, the entry stays pending');
        return;
      }
      if (deliveries >= options.maxDeliveries) return await sendToDeadLetter(id, fields, describe(error), deliveries);
      log.warn({ ...context, err: error, max_deliveries: options.maxDeliveries }, 'handler failed; the entry stays pending for a retry');
    }
  }

  /** Delivery counts of entries this consumer now owns, from XPENDING. */
  async function deliveryCounts(ids: string[]): Promise<Map<string, number>> {
    if (ids.length === 0) return new Map();
    const rows = (await redis.xpending(stream, group, ids[0]!, ids.at(-1)!, ids.length, consumer)) as [string, string, number, number][];
    return new Map(rows.map(([id, , , deliveries]) => [id, Number(deliveries)]));
  }

  async function processOwned(entries: [string, string[] | null][]) {
    // Our own XAUTOCLAIM also returns entries this process is still working on, or holding for a retry.
    entries = entries.filter(([id]) => !slots.holds(id) && !awaitingRetry.has(id));
    const counted = await deliveryCounts(entries.map(([id]) => id));
    for (const [id, flat] of entries) {
      const deliveries = counted.get(id) ?? 1;
      if (deliveries > options.maxDeliveries) {
        const fields = flat ? fieldsToRecord(flat) : {};
        slots.track(
          sendToDeadLetter(id, fields, `delivered ${deliveries} times without being acknowledged (consumers crashed or timed out on it)`, deliveries),
        );
      } else {
        slots.hold({ id, flat, deliveries });
      }
    }
    slots.start();
  }

  /** Entries this consumer name already owns (a restart with a fixed CONSUMER_NAME): finish them first. */
  async function resumeOwnPending() {
    const reply = (await blockingRedis.xreadgroup('GROUP', group, consumer, 'COUNT', options.batchSize, 'STREAMS', stream, '0')) as
      | [string, [string, string[]][]][]
      | null;
    const entries = reply?.[0]?.[1] ?? [];
    if (entries.length > 0) log.info({ entries: entries.length }, 'resuming entries this consumer left pending');
    await processOwned(entries);
  }

  /** Takes over entries idle past CLAIM_IDLE_MS: their consumer crashed, hung, or failed them. */
  async function claimAbandoned() {
    let cursor = '0-0';
    do {
      const free = slots.room();
      if (free <= 0 || !running) return;
      const [next, entries] = (await redis.xautoclaim(stream, group, consumer, options.claimIdleMs, cursor, 'COUNT', free)) as [
        string,
        [string, string[] | null][],
        string[]?,
      ];
      if (entries.length > 0) {
        counts.claimed += entries.length;
        options.observer?.claimed(entries.length);
        log.info({ entries: entries.length }, 'claimed entries left pending by another consumer');
        await processOwned(entries);
      }
      cursor = next;
    } while (cursor !== '0-0');
  }

  /** After an outage: take back the entries that failed on it (XCLAIM JUSTID resets their idle time without counting a delivery) and run them again. */
  async function retryAwaiting() {
    const batch = [...awaitingRetry].slice(0, Math.max(1, slots.room()));
    const ids = batch.map(([id]) => id);
    const stillOurs = new Set((await redis.xclaim(stream, group, consumer, 0, ...ids, 'JUSTID')) as string[]);
    for (const [id, { flat, deliveries }] of batch) {
      awaitingRetry.delete(id);
      // Gone from the pending list: acknowledged or dead-lettered elsewhere meanwhile.
      if (stillOurs.has(id)) slots.hold({ id, flat, deliveries });
    }
    slots.start();
  }

  async function maintain(now: number) {
    if (now >= nextClaimAt) {
      nextClaimAt = now + claimEveryMs;
      await claimAbandoned();
    }
    if (options.maxAgeMs !== undefined && now >= nextTrimAt) {
      nextTrimAt = now + trimEveryMs;
      const trimmed = await trimAcknowledged(redis, stream, options.maxAgeMs, now);
      if (trimmed > 0) log.debug({ trimmed }, 'trimmed acknowledged entries');
    }
  }

  async function readNew() {
    const reply = (await blockingRedis.xreadgroup(
      'GROUP', group, consumer, 'COUNT', slots.room(), 'BLOCK', options.blockMs, 'STREAMS', stream, '>',
    )) as [string, [string, string[]][]][] | null;
    const entries = reply?.[0]?.[1];
    if (!entries) return;
    for (const [id, flat] of entries) slots.hold({ id, flat, deliveries: 1 });
    slots.start();
  }

  async function step() {
    const holdOff = options.gate?.() ?? 0;
    if (holdOff > 0) {
      state = 'paused';
      pausedBecause = 'gate closed (circuit breaker open)';
      await pause(Math.min(holdOff, options.blockMs));
      return;
    }
    if (dependencyDown) {
      state = 'paused';
      pausedBecause = 'dependency unavailable';
      await options.probe?.();
      dependencyDown = false;
      log.info('dependency is back; resuming');
    }
    pausedBecause = undefined;
    if (slots.full()) {
      await slots.roomFrees();
      return;
    }
    if (awaitingRetry.size > 0) {
      await retryAwaiting();
      return;
    }
    if (!groupReady) {
      await ensureGroup();
      await resumeOwnPending();
    }
    await maintain(Date.now());
    // Redis answered: healthy from here, even while the read below blocks waiting for entries.
    if (!redisOk) {
      if (lastError) log.info('reading again');
      lastError = undefined;
    }
    redisOk = true;
    failuresInARow = 0;
    state = 'running';
    await readNew();
  }

  async function run() {
    while (running) {
      try {
        await step();
      } catch (error) {
        if (!running) break;
        if (isNoGroupError(error)) {
          // Redis came back empty (restart without persistence, failover, FLUSHALL): recreate and go on.
          log.warn('consumer group is gone; recreating it');
          groupReady = false;
          continue;
        }
        failuresInARow++;
        lastError = describe(error);
        if (!dependencyDown) {
          redisOk = false;
          state = 'reconnecting';
        }
        const delay = Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(failuresInARow - 1, 6));
        if (failuresInARow === 1 || failuresInARow % 20 === 0) {
          log.warn({ err: error, retry_in_ms: delay, failures_in_a_row: failuresInARow }, 'consumer loop error; retrying');
        }
        await pause(delay);
      }
    }
  }

  return {
    start() {
      if (loop) return loop;
      running = true;
      state = 'running';
      log.info({ concurrency: options.concurrency, claim_idle_ms: options.claimIdleMs, max_deliveries: options.maxDeliveries }, 'consumer started');
      loop = run();
      return loop;
    },
    async stop(timeoutMs) {
      running = false;
      state = 'stopping';
      wake?.();
      slots.release();
      // The loop exits after its current read, which BLOCKs at most blockMs.
      await loop;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      // Entries already read are finished too (the slots keep starting them as others finish).
      await Promise.race([slots.drained(), deadline]);
      clearTimeout(timer);
      await acks.flush();
      state = 'stopped';
      const unfinished = slots.size();
      log.info({ unfinished }, unfinished > 0 ? 'consumer stopped; unfinished entries stay pending for another consumer' : 'consumer stopped');
      return { unfinished };
    },
    status() {
      return {
        state,
        redisOk,
        pausedBecause,
        inflight: slots.size(),
        ...counts,
        lastError,
      };
    },
  };
}
