import { releaseDue } from './delayed-retries.ts';
import type { StreamLogger } from './logger.ts';
import type { Redis } from './redis.ts';

export interface RetryMoverOptions {
  redis: Redis;
  stream: string;
  group: string;
  /** The longest it sleeps between looks at the delayed set. */
  pollMs: number;
  /** Entries moved per script call: small, so one call never holds Redis long. */
  limit?: number;
  log: StreamLogger;
}

export interface RetryMover {
  start(): void;
  stop(): Promise<void>;
}

/**
 * Moves this group's due retries back onto its stream, from whichever consumer is alive: every consumer
 * runs one, and each move is one script (releaseDue), so several replicas never move an entry twice. It
 * sleeps until the next entry is due, or `pollMs` at most (another consumer may park one due sooner).
 * Chained timeouts, not an interval: a slow Redis never stacks calls up.
 */
export function createRetryMover({ redis, stream, group, pollMs, limit = 100, log }: RetryMoverOptions): RetryMover {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let current: Promise<void> | undefined;
  let stopped = true;
  let failuresInARow = 0;

  async function moveDue(): Promise<number> {
    for (;;) {
      try {
        const { moved, nextDueAt } = await releaseDue(redis, { stream, group, limit });
        if (failuresInARow > 0) log.info({ after_failures: failuresInARow }, 'moving due retries again');
        failuresInARow = 0;
        if (moved > 0) log.debug({ moved }, 'due retries back on the stream');
        // A full call may have left more due: go on at once.
        if (moved >= limit) continue;
        return nextDueAt === undefined ? pollMs : Math.max(10, Math.min(pollMs, nextDueAt - Date.now()));
      } catch (error) {
        // Redis away: the consumer loop rides out the same outage; the entries wait where they are.
        failuresInARow++;
        if (failuresInARow === 1 || failuresInARow % 20 === 0) log.warn({ err: error, failures_in_a_row: failuresInARow }, 'could not move due retries; trying again');
        return pollMs;
      }
    }
  }

  function schedule(ms: number) {
    timer = setTimeout(() => {
      timer = undefined;
      current = moveDue().then((next) => {
        current = undefined;
        if (!stopped) schedule(next);
      });
    }, ms);
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      schedule(0);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await current;
    },
  };
}
