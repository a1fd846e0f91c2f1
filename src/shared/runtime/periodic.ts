import type { Logger } from './log.ts';
import { detached } from '../tracing/trace-context.ts';

export interface Periodic {
  /** Runs the task now (or once more right after the current run); resolves when that run is over. */
  runNow(): Promise<void>;
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
  status(): { lastError?: string; failuresInARow: number; lastSuccessAt?: Date };
}

/**
 * Runs `task` every `everyMs`, never two at once. A failure is logged (the first of a streak,
 * then every 30th) and retried on the next tick, so a Redis or PostgreSQL outage is a few log
 * lines and a status, not a crash.
 */
export function startPeriodic(name: string, everyMs: number, task: () => Promise<unknown>, log: Logger): Periodic {
  let current: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  let failuresInARow = 0;
  let lastError: string | undefined;
  let lastSuccessAt: Date | undefined;

  async function runLoop() {
    do {
      again = false;
      try {
        await task();
        if (failuresInARow > 0) log.info({ task: name, after_failures: failuresInARow }, `${name} recovered`);
        failuresInARow = 0;
        lastError = undefined;
        lastSuccessAt = new Date();
      } catch (err) {
        failuresInARow++;
        lastError = err instanceof Error ? err.message : String(err);
        if (failuresInARow === 1 || failuresInARow % 30 === 0) {
          log.warn({ err, task: name, failures_in_a_row: failuresInARow }, `${name} failed; retrying`);
        }
      }
    } while (again && !stopped);
  }

  function runNow(): Promise<void> {
    if (stopped) return Promise.resolve();
    if (current) {
      again = true;
      return current;
    }
    // Outside the trace of whatever asked for the run (a request kicking the relay, say): the task is the process's own.
    current = detached(runLoop).finally(() => {
      current = undefined;
    });
    return current;
  }

  const timer = setInterval(() => void runNow(), everyMs);
  return {
    runNow,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await current;
    },
    status: () => ({ lastError, failuresInARow, lastSuccessAt }),
  };
}
