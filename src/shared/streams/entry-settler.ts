import type { createAckBatcher } from './ack-batcher.ts';
import { ItemInContext } from './batch-item.ts';
import type { Entry } from './commands.ts';
import type { ConsumerOptions } from './consumer-options.ts';
import type { ConsumerCounts } from './consumer-status.ts';
import { deadLetter, failedAttempts } from './dead-letter.ts';
import { describeError } from './describe-error.ts';
import { park } from './delayed-retries.ts';
import { classifyFailure, decideFailure } from './failure-policy.ts';
import { readRetryFields, type RetryAttempt, type RetryInfo } from './retry-fields.ts';
import { retryAfterOf } from './retry-later.ts';
import { retryDelay } from './retry-schedule.ts';
import { createFieldsReader } from './fields-reader.ts';
import type { StreamLogger } from './logger.ts';
import type { ProcessingHook } from './processing-hook.ts';
import type { RunnerEvent } from './runner-machine.ts';

/** A valid entry handed to the handler, as its item: with its entry and fields too, in case it must be dead-lettered. */
export class Handed<Message> extends ItemInContext<Message> {
  readonly entry: Entry;
  /** The entry's own fields, without the retry schedule's. */
  readonly fields: Record<string, string>;
  /** Its earlier failed attempts, when it came back from the retry schedule. */
  readonly retry: RetryInfo | undefined;

  constructor(entry: Entry, fields: Record<string, string>, message: Message, hook: ProcessingHook | undefined, retry?: RetryInfo) {
    super(message, retry ? { id: entry.id, deliveries: entry.deliveries, attempt: retry.attempt + 1 } : { id: entry.id, deliveries: entry.deliveries }, hook);
    this.entry = entry;
    this.fields = fields;
    this.retry = retry;
  }
}

export interface SettlerWiring {
  log: StreamLogger;
  acks: ReturnType<typeof createAckBatcher>;
  /** Whether an entry that failed on an outage is kept for a retry here (the machine's keepsForRetry). */
  keepsForRetry: () => boolean;
  /** Keeps an entry in memory to retry once the dependency is back; called before the machine is told. */
  keep: (entry: Entry) => void;
  /** Tells the loop's machine of an outage failure. */
  report: (event: RunnerEvent) => void;
}

/**
 * What becomes of an entry, in Redis, the logs and the counts: decoded for its handler, acknowledged,
 * dead-lettered, left pending for a later delivery, or kept for a retry, as the failure policy decides.
 * It holds no entries: the dispatcher, which does, is told which way each one went.
 */
export function createEntrySettler<Message>(options: ConsumerOptions<Message>, wiring: SettlerWiring) {
  const { redis, stream, group, consumerName, maxDeliveries, observer, tracing: hook } = options;
  const { log, acks } = wiring;
  const isTransient = options.dependency?.isTransient ?? (() => false);
  const readFields = createFieldsReader();
  const counts: ConsumerCounts = { processed: 0, failed: 0, deadLettered: 0, claimed: 0 };

  /** `history`: the entry's failed attempts, this one included, when it went through the retry schedule. */
  async function toDeadLetter(entry: Entry, fields: Record<string, string>, reason: string, history?: readonly RetryAttempt[]): Promise<void> {
    try {
      await deadLetter(
        { redis, deadLetterStream: options.deadLetterStream, maxLen: options.deadLetterMaxLen },
        {
          originalStream: stream,
          originalId: entry.id,
          group,
          consumer: consumerName,
          error: reason,
          deliveries: entry.deliveries,
          fields,
          ...(history ? { attempts: failedAttempts(history) } : {}),
        },
      );
      counts.deadLettered++;
      observer?.deadLettered();
      log.error({ entry_id: entry.id, deliveries: entry.deliveries, error: reason, dead_letter_stream: options.deadLetterStream }, 'entry dead-lettered');
    } catch (err) {
      log.warn({ err, entry_id: entry.id }, 'could not dead-letter; the entry stays pending');
    }
  }

  /**
   * The retry schedule's answer to a failed attempt: the entry waits in the group's delayed set until its
   * next step (or the error's longer retryAfterMs), or, the schedule spent, is dead-lettered with every
   * attempt's time and reason (in words in `error`, as a list in `attempts`). One script acknowledges
   * and parks it (park), so a crash leaves it either pending here or waiting there. When Redis refuses the park, it stays pending and a claim delivers it again.
   */
  async function scheduleRetry({ entry, fields, retry }: Handed<Message>, error: unknown, context: Record<string, unknown>): Promise<void> {
    const now = (options.now ?? Date.now)();
    const attempt = (retry?.attempt ?? 0) + 1;
    const reason = describeError(error);
    const history = [...(retry?.history ?? []), { at: now, reason }];
    const delay = retryDelay({ attempt, schedule: options.retrySchedule!, retryAfterMs: retryAfterOf(error), random: options.random ?? Math.random });
    if (delay === undefined) {
      const attempts = history.map((failure, i) => `attempt ${i + 1} at ${new Date(failure.at).toISOString()}: ${failure.reason}`).join('; ');
      await toDeadLetter(entry, fields, `failed ${attempt} attempts, the retry schedule is spent: ${attempts}`, history);
      return;
    }
    try {
      const parked = await park(redis, {
        stream,
        group,
        consumer: consumerName,
        id: entry.id,
        fields,
        attempt,
        firstFailedAt: retry?.firstFailedAt ?? now,
        originalId: retry?.originalId ?? entry.id,
        history,
        dueAt: now + delay,
      });
      log.warn({ ...context, err: error, attempt, retry_in_ms: delay, parked }, parked ? 'handler failed; the entry waits for its next attempt' : 'handler failed; the entry was claimed away meanwhile');
    } catch (parkError) {
      log.warn({ ...context, err: error, park_error: describeError(parkError) }, 'handler failed and the entry could not be parked; it stays pending for a later delivery');
    }
  }

  return {
    counts: counts as Readonly<ConsumerCounts>,
    toDeadLetter,

    claimed(count: number) {
      counts.claimed += count;
      observer?.claimed(count);
    },

    /**
     * Decodes an entry for the handler. One that needs no handler is settled here: a deleted one is
     * acknowledged (`acknowledged`), an invalid one dead-lettered (a promise of that, to await). Not
     * async, so a valid entry, the common case, costs no promise and no microtask.
     */
    decode(entry: Entry): Handed<Message> | 'acknowledged' | Promise<void> {
      // XAUTOCLAIM hands back a nil body for an entry deleted while it was pending: nothing left to do.
      if (entry.flat === null) {
        acks.add(entry.id);
        return 'acknowledged';
      }
      const raw = readFields(entry.flat);
      let message: Message;
      let own: { retry: RetryInfo | undefined; fields: Record<string, string> } = { retry: undefined, fields: raw };
      try {
        own = readRetryFields(raw);
        // A retry of another group of this stream (the schedule puts it back on the stream for that group): not ours.
        if (own.retry && own.retry.group !== group) {
          acks.add(entry.id);
          return 'acknowledged';
        }
        message = options.decode(own.fields);
      } catch (error) {
        counts.failed++;
        return toDeadLetter(entry, own.fields, describeError(error));
      }
      return new Handed(entry, own.fields, message, hook, own.retry);
    },

    /** Acknowledges entries whose handler committed. */
    succeeded(batch: readonly Handed<Message>[], started: number) {
      const seconds = (performance.now() - started) / 1000;
      for (const { entry } of batch) {
        counts.processed++;
        acks.add(entry.id);
        observer?.processed(seconds);
      }
    },

    /**
     * A handler failed on an entry (`batch`: the size of the batch that failed as a whole): the failure
     * policy decides between dead-letter, a later delivery (`left`) and a retry here once the dependency
     * is back (`kept`).
     */
    async failed(handed: Handed<Message>, error: unknown, batch: number): Promise<'left' | 'kept'> {
      const { entry, fields, message, retry } = handed;
      counts.failed++;
      observer?.failed();
      const kind = classifyFailure(error, isTransient);
      const context = { ...options.logContext?.(message), entry_id: entry.id, deliveries: entry.deliveries, ...(batch > 1 ? { batch } : {}) };
      if (kind === 'failed' && options.retrySchedule) {
        // Parked, dead-lettered, or (Redis refused the park) left pending for a claim: out of memory either way.
        await scheduleRetry(handed, error, context);
        return 'left';
      }
      const decision = decideFailure(kind, entry.deliveries, maxDeliveries);
      if (decision === 'dead-letter') {
        const reason = describeError(error);
        // An entry back from the schedule (found poison on a later attempt) keeps the attempts that failed before.
        const history = retry ? [...retry.history, { at: (options.now ?? Date.now)(), reason }] : undefined;
        await toDeadLetter(entry, fields, reason, history);
        return 'left';
      }
      if (decision === 'pause' && wiring.keepsForRetry()) {
        wiring.keep(entry);
        log.warn({ ...context, err: error }, 'dependency unavailable; pausing, the entry stays pending');
        wiring.report({ type: 'entry-transient', error: describeError(error) });
        return 'kept';
      }
      log.warn({ ...context, err: error, max_deliveries: maxDeliveries }, 'handler failed; the entry stays pending for a retry');
      return 'left';
    },
  };
}
