import { createAckBatcher } from './ack-batcher.ts';
import { createClaimKeeper } from './claim-keeper.ts';
import { streamCommands, type Entry } from './commands.ts';
import { deadLetter } from './dead-letter.ts';
import { classifyFailure, decideClaimed, decideFailure } from './failure-policy.ts';
import type { StreamLogger } from './logger.ts';
import { isNoGroupError, type Redis } from './redis.ts';
import { apply, initialState, nextStep, runnerLimits, type RunnerEvent, type RunnerPhase, type RunnerStep } from './runner-machine.ts';
import { createFieldsReader } from './fields-reader.ts';
import { fieldsToRecord } from './stream-id.ts';
import { trimAcknowledged } from './trim.ts';

export type { Entry } from './commands.ts';

export interface MessageMeta {
  /** The entry id in the stream. */
  id: string;
  /** 1 on first delivery; more when the entry was claimed from a consumer that failed or died. */
  deliveries: number;
}

/** One valid entry of a batch. */
export interface BatchItem<Message> {
  message: Message;
  meta: MessageMeta;
}

/** What a batch handler may say about single entries; every entry not named here is acknowledged. */
export interface BatchResult {
  failed?: { id: string; error: unknown }[];
}

/** An entry as a ProcessingHook sees it: its id, delivery count and raw fields. */
export interface ProcessedEntry {
  readonly id: string;
  readonly deliveries: number;
  readonly fields: Record<string, string>;
}

/**
 * Runs around every handler call, one entry or one batch, e.g. to trace it (the worker runtime fills
 * it in with OpenTelemetry spans; this library knows nothing of them). It must call `run` once and
 * return, or throw, what it did. Without one the handler is called directly: nothing to pay.
 */
export interface ProcessingHook {
  process<Result>(entries: readonly ProcessedEntry[], run: () => Promise<Result>): Promise<Result>;
}

/** The simple form: one entry at a time. Resolving means committed: only then is the entry acknowledged. */
export type EntryHandler<Message> = { handle: (message: Message, meta: MessageMeta) => Promise<void>; handleBatch?: never };

/**
 * Like kafkajs's `eachBatch`: up to `batchSize` valid entries at once, acknowledged together after it
 * resolves. Throwing fails the whole batch (each entry then follows the failure policy); to fail only
 * some entries, resolve with `{ failed: [{ id, error }] }`. Poison entries never reach it: they are
 * dead-lettered before the call.
 */
export type BatchHandler<Message> = { handleBatch: (batch: BatchItem<Message>[]) => Promise<BatchResult | void>; handle?: never };

/**
 * Failures that mean "a dependency is away, not this entry is bad" (PostgreSQL down, breaker open),
 * and how to tell when it is back. They never dead-letter an entry: the consumer leaves it pending,
 * takes no new work until `probe` resolves, then retries it itself.
 */
export interface DependencyRule {
  isTransient: (error: unknown) => boolean;
  probe: () => Promise<unknown>;
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
  /** A failing entry is dead-lettered on its maxDeliveries-th delivery. */
  maxDeliveries: number;
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
  /** Runs around each handler call (see ProcessingHook); the worker runtime traces through it. */
  tracing?: ProcessingHook;
  /** For tests: the clock and the backoff's randomness. */
  now?: () => number;
  random?: () => number;
}

export type ConsumerOptions<Message> = (EntryHandler<Message> | BatchHandler<Message>) & ConsumerSettings<Message>;

export interface ConsumerObserver {
  processed(seconds: number): void;
  failed(): void;
  deadLettered(): void;
  claimed(count: number): void;
}

export interface ConsumerStatus {
  /** The runner's phase, or `reconnecting` while its Redis calls fail. */
  state: RunnerPhase | 'reconnecting';
  /** Whether the last Redis call succeeded. */
  redisOk: boolean;
  /** Why the consumer is holding off, when it is. */
  pausedBecause?: string;
  /** Entries in memory: running, read ahead, or waiting for a retry. */
  inflight: number;
  processed: number;
  failed: number;
  deadLettered: number;
  claimed: number;
  failuresInARow: number;
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

/** An entry ready for the handler: its message, and its fields in case it must be dead-lettered. */
interface Decoded<Message> {
  entry: Entry;
  message: Message;
  fields: Record<string, string>;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * A Redis Streams consumer-group runner shared by every worker: read in batches, process with
 * bounded concurrency, acknowledge only after the handler committed, take over entries from dead
 * consumers, dead-letter what cannot be processed, and ride out Redis and dependency outages.
 *
 * Every decision (what to read, how much, when to wait, what a failure means) is made by the pure
 * state machine in runner-machine.ts and the failure policy in failure-policy.ts; this file only
 * performs the steps they choose and reports back what happened.
 */
export function createConsumer<Message>(options: ConsumerOptions<Message>): Consumer {
  const { redis, stream, group, consumerName } = options;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const log = options.log.child({ stream, group, consumer: consumerName });
  const isTransient = options.dependency?.isTransient ?? (() => false);
  const limits = runnerLimits(options);
  const commands = streamCommands(redis, options.blockingRedis, { stream, group, consumer: consumerName });
  const acks = createAckBatcher({ redis, stream, group, log });
  const readFields = createFieldsReader();
  const handleBatch = options.handleBatch;
  const handleOne = options.handle;
  const hook = options.tracing;

  let state = initialState(now());
  let loop: Promise<void> | undefined;
  let gated = false;
  let claimCursor = '0-0';
  // Read, not yet handed to the handler.
  const buffer: Entry[] = [];
  // Returned by the last read, not taken yet (counted as held already).
  let justRead: Entry[] = [];
  const takeJustRead = () => {
    const entries = justRead;
    justRead = [];
    return entries;
  };
  // Entries handed to the handler and not finished yet.
  let running = 0;
  let dispatching = false;
  // Failed while a dependency was away: still pending for us, retried once it is back.
  const awaiting = new Map<string, Entry>();
  // Every entry in memory (buffered, running, awaiting), so our own XAUTOCLAIM, which also returns
  // entries we have been working on longer than CLAIM_IDLE_MS, never hands us one a second time.
  const held = new Set<string>();
  const counts = { processed: 0, failed: 0, deadLettered: 0, claimed: 0 };

  // The loop sleeps here; stop(), a finished entry that frees room, or the timer wakes it.
  let wake: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  function update(event: RunnerEvent) {
    state = apply(state, event, limits, now(), random);
  }

  /** An entry left memory; wake the loop once there is room to read again, or when draining. */
  function finished(entry: Entry, ok: boolean) {
    held.delete(entry.id);
    update({ type: 'entry-done', ok });
    wakeIfRoom();
  }

  function wakeIfRoom() {
    if (wake && (state.phase === 'draining' || limits.capacity - state.held >= limits.readWhenRoom)) wake();
  }

  async function sendToDeadLetter(entry: Entry, fields: Record<string, string>, reason: string): Promise<void> {
    try {
      await deadLetter(
        { redis, deadLetterStream: options.deadLetterStream, maxLen: options.deadLetterMaxLen },
        { originalStream: stream, originalId: entry.id, group, consumer: consumerName, error: reason, deliveries: entry.deliveries, fields },
      );
      counts.deadLettered++;
      options.observer?.deadLettered();
      log.error({ entry_id: entry.id, deliveries: entry.deliveries, error: reason, dead_letter_stream: options.deadLetterStream }, 'entry dead-lettered');
    } catch (err) {
      log.warn({ err, entry_id: entry.id }, 'could not dead-letter; the entry stays pending');
    }
  }

  /** A handler failed on `entry`: the failure policy decides between dead-letter, pause and a later delivery. */
  async function failedOn(entry: Entry, fields: Record<string, string>, error: unknown, context: Record<string, unknown>): Promise<void> {
    counts.failed++;
    options.observer?.failed();
    const decision = decideFailure(classifyFailure(error, isTransient), entry.deliveries, options.maxDeliveries);
    if (decision === 'dead-letter') {
      await sendToDeadLetter(entry, fields, describe(error));
      return finished(entry, false);
    }
    if (decision === 'pause' && state.phase !== 'draining' && state.phase !== 'stopped') {
      awaiting.set(entry.id, entry);
      log.warn({ ...context, err: error }, 'dependency unavailable; pausing, the entry stays pending');
      update({ type: 'entry-transient', error: describe(error) });
      return;
    }
    log.warn({ ...context, err: error, max_deliveries: options.maxDeliveries }, 'handler failed; the entry stays pending for a retry');
    finished(entry, false);
  }

  /**
   * Decodes an entry for the handler. One that needs no handler is settled here: a deleted one is
   * acknowledged (returns undefined), an invalid one dead-lettered (returns that, to await). Not
   * async, so a valid entry, the common case, costs no promise and no microtask.
   */
  function decodeEntry(entry: Entry): Decoded<Message> | Promise<void> | undefined {
    // XAUTOCLAIM hands back a nil body for an entry deleted while it was pending: nothing left to do.
    if (entry.flat === null) {
      acks.add(entry.id);
      finished(entry, true);
      return undefined;
    }
    const fields = readFields(entry.flat);
    let message: Message;
    try {
      message = options.decode(fields);
    } catch (error) {
      counts.failed++;
      return sendToDeadLetter(entry, fields, describe(error)).then(() => finished(entry, false));
    }
    return { entry, message, fields };
  }

  /**
   * Held entries that are no longer pending for us: another consumer claimed them while we were silent
   * past CLAIM_IDLE_MS (or the group was recreated). One not started yet is dropped, since its new owner
   * runs it; one running finishes, and its XACK (which Redis accepts from any consumer) settles it for
   * both, the handlers' idempotency absorbing the second run.
   */
  function lostClaims(ids: string[]) {
    let dropped = 0;
    for (const id of ids) {
      const index = buffer.findIndex((entry) => entry.id === id);
      if (index < 0) continue;
      const [entry] = buffer.splice(index, 1);
      dropped++;
      finished(entry!, false);
    }
    log.warn({ entries: ids.length, dropped, still_running: ids.length - dropped, entry_ids: ids.slice(0, 20) }, 'entries this consumer held were claimed by another consumer');
  }

  // Only entries being worked on: those awaiting a dependency are nobody's work until it is back, so
  // another consumer (whose dependency may answer) is free to take them.
  const keeper = createClaimKeeper({
    everyMs: limits.extendEveryMs,
    heldIds: () => (awaiting.size === 0 ? [...held] : [...held].filter((id) => !awaiting.has(id))),
    stillHeld: (id) => held.has(id) && !awaiting.has(id),
    extend: (ids) => commands.claimIfStillOwned(ids),
    lost: lostClaims,
    log,
  });

  function succeeded(entry: Entry, started: number) {
    counts.processed++;
    acks.add(entry.id);
    options.observer?.processed((performance.now() - started) / 1000);
    finished(entry, true);
  }

  async function runOne(entry: Entry): Promise<void> {
    try {
      const started = performance.now();
      const decoded = decodeEntry(entry);
      if (decoded === undefined) return;
      if (decoded instanceof Promise) return await decoded;
      try {
        const meta = { id: entry.id, deliveries: entry.deliveries };
        await (hook ? hook.process([{ ...meta, fields: decoded.fields }], () => handleOne!(decoded.message, meta)) : handleOne!(decoded.message, meta));
        succeeded(entry, started);
      } catch (error) {
        await failedOn(entry, decoded.fields, error, { ...options.logContext?.(decoded.message), entry_id: entry.id, deliveries: entry.deliveries });
      }
    } finally {
      // Here, not in a .finally() around the call: that is one more promise and closure per entry.
      running--;
      dispatch();
    }
  }

  async function runBatch(entries: Entry[]): Promise<void> {
    const started = performance.now();
    const valid: Decoded<Message>[] = [];
    for (const entry of entries) {
      const decoded = decodeEntry(entry);
      // An invalid entry is dead-lettered before the handler sees the rest, one at a time.
      if (decoded instanceof Promise) await decoded;
      else if (decoded !== undefined) valid.push(decoded);
    }
    if (valid.length === 0) return;
    let result: BatchResult | void;
    const call = () => handleBatch!(valid.map(({ entry, message }) => ({ message, meta: { id: entry.id, deliveries: entry.deliveries } })));
    try {
      result = await (hook ? hook.process(valid.map(({ entry, fields }) => ({ id: entry.id, deliveries: entry.deliveries, fields })), call) : call());
    } catch (error) {
      for (const { entry, message, fields } of valid) {
        await failedOn(entry, fields, error, { ...options.logContext?.(message), entry_id: entry.id, deliveries: entry.deliveries, batch: valid.length });
      }
      return;
    }
    if (!result?.failed?.length) {
      // Every entry succeeded, the common case: one machine event for the batch, not one per entry.
      const seconds = (performance.now() - started) / 1000;
      for (const { entry } of valid) {
        counts.processed++;
        acks.add(entry.id);
        options.observer?.processed(seconds);
        held.delete(entry.id);
      }
      update({ type: 'entries-done', count: valid.length, ok: true });
      return wakeIfRoom();
    }
    const failures = new Map(result.failed.map(({ id, error }) => [id, error]));
    for (const { entry, message, fields } of valid) {
      if (failures.has(entry.id)) {
        await failedOn(entry, fields, failures.get(entry.id), { ...options.logContext?.(message), entry_id: entry.id, deliveries: entry.deliveries });
      } else {
        succeeded(entry, started);
      }
    }
  }

  /** Hands buffered entries to the handler while fewer than `concurrency` run: one at a time, or in batches. */
  function dispatch() {
    // An entry that needs no handler (deleted, say) finishes inside runOne's call below and dispatches
    // again: the loop already running here takes its slot, rather than a call nested per such entry.
    if (dispatching) return;
    dispatching = true;
    try {
      dispatchWhileRoom();
    } finally {
      dispatching = false;
    }
  }

  function dispatchWhileRoom() {
    while (running < limits.concurrency && buffer.length > 0) {
      if (!handleBatch) {
        // shift(), not splice(0, 1): no array per entry. runOne frees its slot and dispatches again itself.
        running++;
        void runOne(buffer.shift()!);
        continue;
      }
      const size = Math.min(buffer.length, limits.concurrency - running, options.batchSize);
      const entries = buffer.splice(0, size);
      running += size;
      void runBatch(entries).finally(() => {
        running -= size;
        dispatch();
      });
    }
  }

  /** Takes entries into memory: those delivered too often are dead-lettered, the rest run. */
  function take(entries: Entry[]) {
    for (const entry of entries) {
      held.add(entry.id);
      if (decideClaimed(entry.deliveries, options.maxDeliveries) === 'dead-letter') {
        const fields = entry.flat ? fieldsToRecord(entry.flat) : {};
        const reason = `delivered ${entry.deliveries} times without being acknowledged (consumers crashed or timed out on it)`;
        void sendToDeadLetter(entry, fields, reason).finally(() => finished(entry, false));
      } else {
        buffer.push(entry);
      }
    }
    dispatch();
  }

  async function perform(step: Exclude<RunnerStep, { kind: 'exit' }>): Promise<void> {
    gated = step.kind === 'wait' && step.reason === 'gate';
    switch (step.kind) {
      case 'wait':
        return sleep(step.ms);
      case 'ensure-group': {
        if (await commands.createGroup()) log.info('created consumer group');
        const own = await commands.readOwnPending(step.count);
        if (own.length > 0) log.info({ entries: own.length }, 'resuming entries this consumer left pending');
        if (state.phase === 'recovering-group') log.warn('consumer group recreated; carrying on');
        update({ type: 'group-ready', resumed: own.length });
        return take(own);
      }
      case 'probe':
        try {
          await options.dependency?.probe();
        } catch (error) {
          if (state.failuresInARow === 0) log.warn({ err: error }, 'dependency still unavailable; probing again');
          return update({ type: 'probe-failed', error: describe(error) });
        }
        log.info('dependency is back; resuming');
        return update({ type: 'probe-ok' });
      case 'retry-awaiting': {
        const batch = [...awaiting.values()].slice(0, step.count);
        const owned = await commands.claimIfStillOwned(batch.map((entry) => entry.id));
        for (const entry of batch) {
          awaiting.delete(entry.id);
          if (!owned.has(entry.id)) held.delete(entry.id);
        }
        const lost = batch.length - owned.size;
        if (lost > 0) log.info({ entries: lost }, 'entries awaiting a retry were taken over by another consumer meanwhile');
        update({ type: 'retried', owned: owned.size, lost });
        buffer.push(...batch.filter((entry) => owned.has(entry.id)));
        return dispatch();
      }
      case 'claim': {
        const { next, entries: claimed } = await commands.autoClaim(options.claimIdleMs, claimCursor, step.count);
        claimCursor = next;
        const entries = claimed.filter((entry) => !held.has(entry.id));
        if (entries.length > 0) {
          counts.claimed += entries.length;
          options.observer?.claimed(entries.length);
          log.info({ entries: entries.length }, 'claimed entries left pending by another consumer');
        }
        update({ type: 'claimed', count: entries.length, sweepDone: next === '0-0' });
        return take(entries);
      }
      case 'trim': {
        const trimmed = await trimAcknowledged(redis, stream, options.maxAgeMs!, now());
        if (trimmed > 0) log.debug({ trimmed }, 'trimmed acknowledged entries');
        return update({ type: 'trimmed' });
      }
      case 'read': {
        const entries = await commands.readNew(step.count, step.blockMs);
        if (!state.redisOk && state.lastError) log.info('reading again');
        update({ type: 'read', count: entries.length });
        // Taken by the loop once its next command is on the wire (see run()).
        justRead = entries;
        return;
      }
    }
  }

  async function run() {
    for (;;) {
      const step = nextStep(state, limits, now(), state.phase === 'running' || state.phase === 'paused' ? (options.gate?.() ?? 0) : 0);
      if (step.kind === 'exit') return take(takeJustRead());
      const performing = perform(step);
      // What the last read returned is handed to the handlers only now, with the next command (the next
      // read, usually) already sent: Redis serves it while they run. Handled first, the next read would
      // wait for them, and Redis for it; the client's CPU is the bottleneck, not Redis.
      take(takeJustRead());
      try {
        await performing;
      } catch (error) {
        const noGroup = isNoGroupError(error);
        update({ type: 'redis-error', error: describe(error), noGroup });
        if (noGroup) {
          // Redis came back empty (restart without persistence, failover, FLUSHALL): recreate and go on.
          log.warn({ step: step.kind }, 'consumer group is gone; recreating it');
          for (const id of awaiting.keys()) held.delete(id);
          awaiting.clear();
        } else if (state.failuresInARow === 1 || state.failuresInARow % 20 === 0) {
          log.warn({ err: error, step: step.kind, retry_in_ms: state.retryAt - now(), failures_in_a_row: state.failuresInARow }, 'consumer loop error; retrying');
        }
      }
    }
  }

  return {
    start() {
      if (loop) return loop;
      log.info({ concurrency: options.concurrency, claim_idle_ms: options.claimIdleMs, max_deliveries: options.maxDeliveries, batch: Boolean(handleBatch) }, 'consumer started');
      loop = run();
      keeper.start();
      return loop;
    },
    async stop(timeoutMs) {
      const deadline = now() + timeoutMs;
      update({ type: 'stop', deadline });
      // Entries awaiting a retry stay pending in Redis; another consumer claims them.
      for (const id of awaiting.keys()) held.delete(id);
      awaiting.clear();
      wake?.();
      // The loop exits after its current step (a read BLOCKs at most blockMs) and the drain.
      if (loop) await loop;
      else update({ type: 'drained' });
      // Held until the drain ended; what is still running past the deadline is left for another consumer to claim.
      await keeper.stop();
      await acks.flush();
      const unfinished = running + buffer.length;
      log.info({ unfinished }, unfinished > 0 ? 'consumer stopped; unfinished entries stay pending for another consumer' : 'consumer stopped');
      return { unfinished };
    },
    status() {
      return {
        state: !state.redisOk && state.failuresInARow > 0 ? 'reconnecting' : gated && state.phase === 'running' ? 'paused' : state.phase,
        redisOk: state.redisOk,
        pausedBecause: gated ? 'gate closed (circuit breaker open)' : state.pausedBecause === 'dependency' ? 'dependency unavailable' : undefined,
        inflight: state.held,
        ...counts,
        failuresInARow: state.failuresInARow,
        lastError: state.lastError,
      };
    },
  };
}
