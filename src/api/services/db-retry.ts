import { isTransientDbError } from '../../shared/db/connection-error.ts';
import { backoffDelay } from '../../shared/backoff/backoff.ts';
import { ServiceUnavailable } from '../errors/domain.ts';

export interface DbRetryOptions {
  /** The whole time a request may spend retrying before it answers 503 (DB_RETRY_BUDGET_MS). */
  budgetMs: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<unknown>;
  random?: () => number;
}

/** Short delays: a request is waiting. The project's one backoff policy, from 20 ms up to 250 ms. */
const REQUEST_BACKOFF = { baseMs: 20, maxMs: 250, jitter: 'equal' } as const;

/**
 * The delay before the next try after `attempt` failed with `error`, `elapsedMs` into the request,
 * or undefined when it must not be tried again (not retryable, or the budget would be spent).
 */
export function retryDelay(error: unknown, attempt: number, elapsedMs: number, budgetMs: number, random: () => number = Math.random): number | undefined {
  if (!isTransientDbError(error)) return undefined;
  const delay = backoffDelay(attempt, REQUEST_BACKOFF, random);
  return elapsedMs + delay < budgetMs ? delay : undefined;
}

/** Lets the work grow its budget to at least `ms` from now (never shrinks it). */
export type ExtendBudget = (ms: number) => void;

/**
 * Runs `work` (attempt counts from 1), again after a transient database failure, until it succeeds,
 * fails for good, or the budget is spent; then the client gets `503 service_unavailable` with
 * Retry-After, never a 500 for an outage. Work that has sent a write whose outcome it must learn
 * before it may answer extends the budget (see place-order.ts).
 */
export async function withDbRetry<T>(
  work: (attempt: number, extendBudget: ExtendBudget) => Promise<T>,
  { budgetMs, now = Date.now, sleep = Bun.sleep, random = Math.random }: DbRetryOptions,
): Promise<T> {
  const started = now();
  let budget = budgetMs;
  const extendBudget: ExtendBudget = (ms) => {
    budget = Math.max(budget, now() - started + ms);
  };
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt, extendBudget);
    } catch (error) {
      const delay = retryDelay(error, attempt, now() - started, budget, random);
      if (delay === undefined) {
        if (isTransientDbError(error)) throw new ServiceUnavailable('PostgreSQL', error);
        throw error;
      }
      await sleep(delay);
    }
  }
}
