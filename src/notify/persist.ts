import { backoffDelay } from '../shared/backoff/backoff.ts';
import { isTransientDbError } from '../shared/db/connection-error.ts';

const BACKOFF = { baseMs: 50, maxMs: 1000, jitter: 'equal' } as const;

/**
 * Runs a write that records what the other side already did (the mail server's 250): failing it would
 * send the message again, so a transient PostgreSQL failure (a cut session, a restart) is retried here
 * for up to `budgetMs` rather than handed to the consumer, which would retry the whole delivery. Only
 * a process that dies meanwhile, or an outage longer than the budget, leaves the message unrecorded.
 */
export async function persist<T>(write: () => Promise<T>, { budgetMs, now = Date.now, sleep = Bun.sleep, random = Math.random }: { budgetMs: number; now?: () => number; sleep?: (ms: number) => Promise<unknown>; random?: () => number }): Promise<T> {
  const deadline = now() + budgetMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      const delay = backoffDelay(attempt, BACKOFF, random);
      if (!isTransientDbError(error) || now() + delay > deadline) throw error;
      await sleep(delay);
    }
  }
}
