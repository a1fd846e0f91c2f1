import { createAckBatcher } from './ack-batcher.ts';
import { createClaimKeeper } from './claim-keeper.ts';
import { streamCommands } from './commands.ts';
import type { ConsumerOptions } from './consumer-options.ts';
import { consumerStatus, type ConsumerStatus } from './consumer-status.ts';
import { describeError } from './describe-error.ts';
import { createDispatcher } from './dispatcher.ts';
import { isNoGroupError } from './redis.ts';
import { apply, initialState, keepsForRetry, nextStep, runnerLimits, type RunnerEvent, type RunnerStep } from './runner-machine.ts';
import { createRetryMover } from './retry-mover.ts';
import { createSleeper } from './sleeper.ts';
import { trimAcknowledged } from './trim.ts';

export type { BatchItem, BatchResult, MessageMeta } from './batch-item.ts';
export type { Entry } from './commands.ts';
export type { BatchHandler, ConsumerObserver, ConsumerOptions, ConsumerSettings, DependencyRule, EntryHandler } from './consumer-options.ts';
export type { ConsumerStatus } from './consumer-status.ts';
export type { ProcessedEntry, ProcessingHook } from './processing-hook.ts';

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

/**
 * A Redis Streams consumer-group runner shared by every worker: read in batches, process with
 * bounded concurrency, acknowledge only after the handler committed, take over entries from dead
 * consumers, dead-letter what cannot be processed, and ride out Redis and dependency outages.
 *
 * Every decision (what to read, how much, when to wait, what a failure means) is made by the pure
 * state machine in runner-machine.ts and the failure policy in failure-policy.ts. This file is the
 * read loop, which performs the machine's steps; dispatcher.ts runs the handlers on what it read.
 */
export function createConsumer<Message>(options: ConsumerOptions<Message>): Consumer {
  const { redis, stream, group, consumerName } = options;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const log = options.log.child({ stream, group, consumer: consumerName });
  const limits = runnerLimits(options);
  const commands = streamCommands(redis, options.blockingRedis, { stream, group, consumer: consumerName });
  const acks = createAckBatcher({ redis, stream, group, log });

  let state = initialState(now());
  let loop: Promise<void> | undefined;
  let gated = false;
  let claimCursor = '0-0';

  // The loop sleeps here; stop(), an entry leaving memory that frees room, or the timer wakes it.
  const sleeper = createSleeper();

  function update(event: RunnerEvent) {
    state = apply(state, event, limits, now(), random);
  }

  const dispatcher = createDispatcher(options, {
    log,
    acks,
    keepsForRetry: () => keepsForRetry(state),
    report: update,
    // Wake the loop once there is room to read again, or when draining.
    left: () => {
      if (sleeper.sleeping && (state.phase === 'draining' || limits.capacity - dispatcher.held.held >= limits.readWhenRoom)) sleeper.wake();
    },
  });

  const keeper = createClaimKeeper({
    everyMs: limits.extendEveryMs,
    heldIds: dispatcher.workingIds,
    stillHeld: dispatcher.isWorking,
    extend: (ids) => commands.claimIfStillOwned(ids),
    lost: dispatcher.lost,
    log,
  });

  // With a retry schedule, failed entries wait in the group's delayed set; this consumer moves due ones back.
  const mover = options.retrySchedule ? createRetryMover({ redis, stream, group, pollMs: options.retryPollMs ?? 1000, log }) : undefined;

  async function perform(step: Exclude<RunnerStep, { kind: 'exit' }>): Promise<void> {
    gated = step.kind === 'wait' && step.reason === 'gate';
    switch (step.kind) {
      case 'wait':
        return sleeper.sleep(step.ms);
      case 'ensure-group': {
        if (await commands.createGroup()) log.info('created consumer group');
        const own = await commands.readOwnPending(step.count);
        if (own.length > 0) log.info({ entries: own.length }, 'resuming entries this consumer left pending');
        if (state.phase === 'recovering-group') log.warn('consumer group recreated; carrying on');
        update({ type: 'group-ready' });
        return dispatcher.take(own);
      }
      case 'probe':
        try {
          await options.dependency?.probe();
        } catch (error) {
          if (state.failuresInARow === 0) log.warn({ err: error }, 'dependency still unavailable; probing again');
          return update({ type: 'probe-failed', error: describeError(error) });
        }
        log.info('dependency is back; resuming');
        return update({ type: 'probe-ok' });
      case 'retry-awaiting': {
        const entries = dispatcher.awaitingFirst(step.count);
        const owned = await commands.claimIfStillOwned(entries.map((entry) => entry.id));
        update({ type: 'retried' });
        const lost = dispatcher.retry(entries, owned);
        if (lost > 0) log.info({ entries: lost }, 'entries awaiting a retry were taken over by another consumer meanwhile');
        return;
      }
      case 'claim': {
        const { next, entries } = await commands.autoClaim(options.claimIdleMs, claimCursor, step.count);
        claimCursor = next;
        update({ type: 'claimed', sweepDone: next === '0-0' });
        const taken = dispatcher.takeClaimed(entries);
        if (taken > 0) log.info({ entries: taken }, 'claimed entries left pending by another consumer');
        return;
      }
      case 'trim': {
        const trimmed = await trimAcknowledged(redis, stream, options.maxAgeMs!, now());
        if (trimmed > 0) log.debug({ trimmed }, 'trimmed acknowledged entries');
        return update({ type: 'trimmed' });
      }
      case 'read': {
        const entries = await commands.readNew(step.count, step.blockMs);
        if (!state.redisOk && state.lastError) log.info('reading again');
        update({ type: 'read' });
        // Held now; handed to the handlers once the loop's next command is on the wire (see run()).
        return dispatcher.hold(entries);
      }
    }
  }

  async function run() {
    for (;;) {
      const step = nextStep(state, dispatcher.held, limits, now(), state.phase === 'running' || state.phase === 'paused' ? (options.gate?.() ?? 0) : 0);
      if (step.kind === 'exit') return dispatcher.release();
      const performing = perform(step);
      // What the last read returned is handed to the handlers only now, with the next command (the next
      // read, usually) already sent: Redis serves it while they run. Handled first, the next read would
      // wait for them, and Redis for it; the client's CPU is the bottleneck, not Redis.
      dispatcher.release();
      try {
        await performing;
      } catch (error) {
        const noGroup = isNoGroupError(error);
        update({ type: 'redis-error', error: describeError(error), noGroup });
        if (noGroup) {
          // Redis came back empty (restart without persistence, failover, FLUSHALL): recreate and go on.
          log.warn({ step: step.kind }, 'consumer group is gone; recreating it');
          dispatcher.letGoAwaiting();
        } else if (state.failuresInARow === 1 || state.failuresInARow % 20 === 0) {
          log.warn({ err: error, step: step.kind, retry_in_ms: state.retryAt - now(), failures_in_a_row: state.failuresInARow }, 'consumer loop error; retrying');
        }
      }
    }
  }

  return {
    start() {
      if (loop) return loop;
      log.info({ concurrency: options.concurrency, claim_idle_ms: options.claimIdleMs, max_deliveries: options.maxDeliveries, batch: Boolean(options.handleBatch) }, 'consumer started');
      loop = run();
      keeper.start();
      mover?.start();
      return loop;
    },
    async stop(timeoutMs) {
      update({ type: 'stop', deadline: now() + timeoutMs });
      // Entries awaiting a retry stay pending in Redis; another consumer claims them.
      dispatcher.letGoAwaiting();
      sleeper.wake();
      // The loop exits after its current step (a read BLOCKs at most blockMs) and the drain.
      if (loop) await loop;
      else update({ type: 'drained' });
      // Held until the drain ended; what is still running past the deadline is left for another consumer to claim.
      await keeper.stop();
      await mover?.stop();
      await acks.flush();
      const unfinished = dispatcher.unfinished();
      log.info({ unfinished }, unfinished > 0 ? 'consumer stopped; unfinished entries stay pending for another consumer' : 'consumer stopped');
      return { unfinished };
    },
    status: () => consumerStatus(state, dispatcher.held, gated, dispatcher.counts),
  };
}
