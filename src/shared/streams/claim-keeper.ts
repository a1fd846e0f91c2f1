import type { StreamLogger } from './logger.ts';

export interface ClaimKeeperOptions {
  /** How often to extend: a third of CLAIM_IDLE_MS (see runnerLimits). */
  everyMs: number;
  /** Ids of the entries this consumer is working on (running or read ahead). */
  heldIds: () => string[];
  /** Whether `id` is still one of them (it may have finished while the extension was on the wire). */
  stillHeld: (id: string) => boolean;
  /** Resets the idle time of those of `ids` still pending for this consumer, and returns them. */
  extend: (ids: string[]) => Promise<Set<string>>;
  /** Told of held entries that are no longer pending for this consumer: another consumer claimed them. */
  lost: (ids: string[]) => void;
  log: StreamLogger;
}

export interface ClaimKeeper {
  start(): void;
  /** Clears the timer and waits for an extension on the wire, so none is sent after the consumer stopped. */
  stop(): Promise<void>;
}

/**
 * Keeps this consumer's claim on the entries it is working on, as BullMQ extends its job locks and
 * JetStream takes "in progress" acks: every `everyMs` their idle time is reset, so another consumer's
 * XAUTOCLAIM (which takes entries idle past CLAIM_IDLE_MS) only ever takes a dead or silent consumer's
 * entries, however slow the handler. A third of CLAIM_IDLE_MS leaves room for two missed rounds (a slow
 * round trip, a pause) before an entry could be taken.
 *
 * One timer per consumer, chained rather than an interval so a slow Redis never stacks extensions up;
 * with nothing held a round costs no Redis call.
 */
export function createClaimKeeper(options: ClaimKeeperOptions): ClaimKeeper {
  const { everyMs, log } = options;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let current: Promise<void> | undefined;
  let stopped = true;
  let failuresInARow = 0;

  async function extendHeld(): Promise<void> {
    const ids = options.heldIds();
    if (ids.length === 0) return;
    try {
      const kept = await options.extend(ids);
      if (failuresInARow > 0) log.info({ after_failures: failuresInARow }, 'extending claims on held entries again');
      failuresInARow = 0;
      const lost = ids.filter((id) => !kept.has(id) && options.stillHeld(id));
      if (lost.length > 0) options.lost(lost);
    } catch (error) {
      // The consumer loop meets the same outage and rides it out (backoff, /health says so); here it
      // only means another consumer may claim these entries once they pass CLAIM_IDLE_MS, and the
      // handlers' idempotency absorbs that. Said once per streak, then every 20th round.
      failuresInARow++;
      if (failuresInARow === 1 || failuresInARow % 20 === 0) {
        log.warn({ err: error, entries: ids.length, failures_in_a_row: failuresInARow }, 'could not extend the claim on held entries; retrying next round');
      }
    }
  }

  function schedule() {
    timer = setTimeout(() => {
      timer = undefined;
      current = extendHeld().finally(() => {
        current = undefined;
        if (!stopped) schedule();
      });
    }, everyMs);
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await current;
    },
  };
}
